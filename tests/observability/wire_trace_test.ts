/**
 * The trace context where it crosses Redis: job messages and context calls keep a well-formed
 * W3C trace context, refuse a malformed one with a message naming the field, and its signature
 * covers it (a changed traceparent is refused like any other change).
 *
 * @module
 */
import assert from "assert";
import { parseCallRecord, parseJobMessage, WIRE_VERSION } from "../../src/redis/wire.ts";
import { Signer } from "../../src/redis/signing.ts";
import { parseTraceparent, toCarrier } from "../../src/observability/otel.ts";

const TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

function job(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    v: WIRE_VERSION,
    job: "j1",
    replyTo: "p1",
    runId: "r1",
    taskId: "t",
    input: null,
    attempt: 1,
    cycle: 1,
    retentionMs: 60_000,
    ...extra,
  });
}

Deno.test("a job message keeps a W3C trace context and drops nothing else of it", () => {
  assert.deepEqual(parseJobMessage(job({ trace: { traceparent: TP } })).trace, {
    traceparent: TP,
  });
  assert.deepEqual(
    parseJobMessage(job({ trace: { traceparent: TP, tracestate: "vendor=x", extra: 1 } })).trace,
    { traceparent: TP, tracestate: "vendor=x" },
  );
  assert.equal(parseJobMessage(job()).trace, undefined);
});

Deno.test("a malformed trace context in a job message or a call is refused, naming the field", () => {
  const bad: unknown[] = [
    "00-x",
    { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331" },
    { traceparent: `00-${"0".repeat(32)}-b7ad6b7169203331-01` },
    { traceparent: "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01" },
    { traceparent: TP.toUpperCase() },
    { traceparent: TP, tracestate: "x".repeat(513) },
    { traceparent: TP, tracestate: "a=b\nc=d" },
    [TP],
  ];
  for (const trace of bad) {
    assert.throws(() => parseJobMessage(job({ trace })), /field "trace"/, JSON.stringify(trace));
    const call = JSON.stringify({
      id: "c1",
      job: "j1",
      replyTo: "w1",
      call: { op: "result", taskId: "t" },
      trace,
    });
    assert.throws(() => parseCallRecord(call), /field "trace"/);
  }
});

Deno.test("the signature of a job message covers its trace context", () => {
  const signer = new Signer("s3cret", "graflow");
  const text = job({ trace: { traceparent: TP } });
  const sealed = signer.seal("job", "r1", "j1", text);
  assert.equal(signer.open("job", "r1", "j1", sealed), text);
  const forged = sealed.replace("b7ad6b7169203331", "c7ad6b7169203331");
  assert.notEqual(forged, sealed);
  assert.throws(() => signer.open("job", "r1", "j1", forged));
});

Deno.test("traceparent text round-trips through a span context", () => {
  const sc = parseTraceparent({ traceparent: TP, tracestate: "a=1,b=2" });
  assert.equal(sc.isRemote, true);
  assert.equal(sc.traceState?.get("b"), "2");
  assert.deepEqual(toCarrier(sc), { traceparent: TP, tracestate: "a=1,b=2" });
  assert.equal(
    toCarrier({ traceId: "0".repeat(32), spanId: "1".repeat(16), traceFlags: 1 }),
    undefined,
  );
});
