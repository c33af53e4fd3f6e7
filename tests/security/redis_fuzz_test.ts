/**
 * Fuzzing every decoder on the Redis path with random and mutated messages: job messages,
 * outcome, call and reply records, wake-up payloads, config values, sealed envelopes and value
 * trees. Each either decodes or throws a clear error (a `TypeError`/`SyntaxError` or a coded
 * `WorkflowError` with a message); nothing is imported, nothing crashes, nothing hangs. Then a
 * live worker takes a few hundred mutated entries and still runs a genuine job.
 *
 * Deterministic: the seed is in the test name; change it to explore.
 *
 * @module
 */
import assert from "node:assert/strict";
import { flow, task, WorkflowError } from "../../mod.ts";
import { decodeValue, fromJsonTree } from "../../src/channels/codec.ts";
import { fromErrorRecord } from "../../src/errors.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { readLease } from "../../src/redis/prefix_config.ts";
import { Signer } from "../../src/redis/signing.ts";
import { decodeWake } from "../../src/redis/wake.ts";
import {
  parseCallRecord,
  parseJobMessage,
  parseOutcomeRecord,
  parseReplyRecord,
  WIRE_VERSION,
} from "../../src/redis/wire.ts";
import { admitEntry } from "../../src/worker/admit_entry.ts";
import { ModuleAllowlist } from "../../src/worker/module_allowlist.ts";
import { runWorker } from "../../src/worker/mod.ts";
import { attacker, NO_REDIS, randomPrefix, RedisServer, waitFor } from "./redis_helpers.ts";

const SEED = 20261201;
const FLAG = "__graflowFuzzImported";
const g = globalThis as Record<string, unknown>;
const okTask = task("sec_fuzz_ok", (x: unknown) => x);

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ATOMS = [
  0,
  -0,
  1,
  -1,
  1e308,
  -1e308,
  5e-324,
  2 ** 53,
  1.5,
  "",
  "x",
  "\uD800",
  "\u0000",
  "__proto__",
  "$type",
  "constructor",
  true,
  false,
  null,
  "data:text/javascript,globalThis." + FLAG + "=1",
  "file:///etc/passwd",
  "file:///tmp/../etc/passwd",
  "%2e%2e",
  "o\nx\ny",
  "|",
  "a|b",
];
const TAGS = ["Number", "undefined", "BigInt", "Date", "Map", "Set", "Uint8Array", "Object", "X"];

function fuzzer(seed: number) {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const str = (max = 40) =>
    Array.from({ length: int(max) }, () => String.fromCharCode(int(rnd() < 0.9 ? 128 : 0xffff)))
      .join("");
  const json = (depth = 0): unknown => {
    const r = rnd();
    if (depth > 4 || r < 0.35) return rnd() < 0.5 ? pick(ATOMS) : str(12);
    if (r < 0.5) return Array.from({ length: int(4) }, () => json(depth + 1));
    if (r < 0.6) return { $type: pick(TAGS), value: json(depth + 1) };
    const o: Record<string, unknown> = {};
    for (let i = int(5); i > 0; i--) {
      o[rnd() < 0.3 ? pick(ATOMS) as string : str(6)] = json(depth + 1);
    }
    return o;
  };
  const mutateText = (text: string): string => {
    let s = text;
    for (let k = 1 + int(3); k > 0; k--) {
      const at = int(s.length + 1);
      const r = rnd();
      if (r < 0.25) s = s.slice(0, at) + s.slice(at + 1 + int(5));
      else if (r < 0.5) {
        s = s.slice(0, at) + pick(['"', "{", "}", "[", "]", ",", ":", "\n", "|", "\\"]) +
          s.slice(at);
      } else if (r < 0.7) s = s.slice(0, at);
      else if (r < 0.85) s = s.slice(0, at) + str(8) + s.slice(at);
      else s = s + s.slice(at);
    }
    return s;
  };
  const mutateTree = (value: unknown, depth = 0): unknown => {
    if (value === null || typeof value !== "object" || depth > 5) {
      return rnd() < 0.3 ? json(3) : value;
    }
    const copy: Record<string, unknown> = Array.isArray(value)
      ? [...value] as unknown as Record<string, unknown>
      : { ...value as Record<string, unknown> };
    const keys = Object.keys(copy);
    const r = rnd();
    if (keys.length && r < 0.3) delete copy[pick(keys)];
    else if (keys.length && r < 0.7) {
      const k = pick(keys);
      copy[k] = mutateTree(copy[k], depth + 1);
    } else copy[rnd() < 0.5 ? pick(ATOMS) as string : str(5)] = json(2);
    return copy;
  };
  return { rnd, int, pick, str, json, mutateText, mutateTree };
}

const validJob = () => ({
  v: WIRE_VERSION,
  job: "job-1",
  replyTo: "producer-1",
  runId: "run-1",
  taskId: "sec_fuzz_ok",
  module: "data:text/javascript,globalThis." + FLAG + "=1",
  input: { $type: "Map", value: [[1, { $type: "BigInt", value: "12" }]] },
  attempt: 1,
  cycle: 1,
  retentionMs: 60_000,
});
const validOutcome = () => ({
  job: "job-1",
  worker: "w1",
  outcome: {
    ok: true,
    value: [1, { $type: "Date", value: "2024-01-01T00:00:00.000Z" }],
    directives: {
      next: [{ task: "sec_fuzz_ok", module: "data:,x", hasInput: true, input: 1, goto: true }],
      iterate: { hasInput: false },
      terminate: { reason: "r" },
      checkpoints: [{ path: "p", metadata: { a: 1 } }],
    },
  },
});
const validFailure = () => ({
  job: "job-1",
  worker: "w1",
  outcome: {
    ok: false,
    error: {
      name: "TaskFailedError",
      message: "m",
      code: "C",
      cause: { name: "RangeError", message: "inner" },
      props: { failed: [{ taskId: "t", error: { name: "Error", message: "e" } }] },
    },
  },
});
const validCall = () => ({
  id: "call-1",
  job: "job-1",
  replyTo: "w1",
  call: { op: "channel", method: "get", args: ["k"] },
});
const validReply = () => ({ ok: true, value: { $type: "Set", value: [1, 2] } });

/** Runs `f`; anything it throws must be a clear, expected error. */
function clear(what: string, input: unknown, f: () => unknown): void {
  try {
    f();
  } catch (error) {
    // Ours say what they cannot do ("Cannot decode ..."); JSON.parse names JSON.
    const ok = (error instanceof TypeError && /^Cannot /.test(error.message)) ||
      (error instanceof SyntaxError && /JSON/.test(error.message)) ||
      (error instanceof WorkflowError && typeof error.code === "string" &&
        /^Cannot /.test(error.message));
    if (!ok) {
      throw new Error(
        `${what} threw ${(error as Error)?.name}: ${(error as Error)?.message} for ${
          JSON.stringify(input)?.slice(0, 300)
        }`,
      );
    }
  }
}

Deno.test(`Every Redis-path decoder gives a value or a clear error on random and mutated input (seed ${SEED})`, async () => {
  const f = fuzzer(SEED);
  const signer = new Signer("s3cret", "fz");
  const plain = new Signer(undefined, "fz");
  const started = performance.now();
  const samples: [string, () => unknown][] = [
    ["job", validJob],
    ["outcome", validOutcome],
    ["failure", validFailure],
    ["call", validCall],
    ["reply", validReply],
  ];
  let decoded = 0;
  for (let i = 0; i < 4000; i++) {
    const [, make] = f.pick(samples);
    const r = f.rnd();
    const text = r < 0.15
      ? f.str(200)
      : r < 0.3
      ? JSON.stringify(f.json())
      : r < 0.65
      ? f.mutateText(JSON.stringify(make()))
      : JSON.stringify(f.mutateTree(make()));
    for (
      const [name, decode] of [
        ["parseJobMessage", parseJobMessage],
        ["parseOutcomeRecord", parseOutcomeRecord],
        ["parseCallRecord", parseCallRecord],
        ["parseReplyRecord", parseReplyRecord],
      ] as const
    ) {
      clear(name, text, () => {
        const v = decode(text) as unknown as Record<string, unknown>;
        decoded++;
        // What follows a successful decode must be clear too.
        const o = (v.outcome ?? v) as Record<string, unknown>;
        if (o.ok === true) fromJsonTree(o.value);
        if (o.ok === false) fromErrorRecord(o.error as never);
        if (v.input !== undefined) fromJsonTree(v.input);
        for (const n of ((o.directives as { next?: { input?: unknown }[] })?.next ?? [])) {
          assert.equal((n as Record<string, unknown>).module, undefined, "module kept");
          fromJsonTree(n.input);
        }
      });
    }
    clear("decodeValue", text, () => decodeValue(text));
    const payload = f.pick(["o\n", "c\n", "r\n", "cancel\n", "", "handback", "config"]) +
      f.mutateText(`run-1\ncall-1\n${text}`);
    clear("decodeWake", payload, () => decodeWake(payload));
    const sealed = f.rnd() < 0.5
      ? `${f.str(64)}|${text}`
      : f.mutateText(signer.seal("outcome", "run-1", "job-1", text));
    clear("Signer.open", sealed, () => signer.open("outcome", "run-1", "job-1", sealed));
    clear("Signer.open (no secret)", sealed, () => plain.open("outcome", "run-1", "job-1", sealed));
    const lease = f.rnd() < 0.5
      ? f.str(20)
      : f.mutateText(signer.seal("config", "", "leaseMs", "2000"));
    for (const s of [signer, plain]) {
      const l = readLease(lease, s, "fz:config");
      if (l.leaseMs !== undefined) assert.ok(l.leaseMs >= 1000 && l.leaseMs <= 3_600_000, lease);
    }
  }
  // Deep nesting and very long inputs stay clear and quick.
  for (const text of ["[".repeat(200_000), '{"a":'.repeat(50_000), "1".repeat(1_000_000)]) {
    clear("parseJobMessage", text.slice(0, 20), () => parseJobMessage(text));
    clear("decodeValue", text.slice(0, 20), () => decodeValue(text));
  }
  clear("decodeValue", "deep", () => decodeValue(JSON.stringify(nest(5000))));
  assert.ok(decoded > 100, `only ${decoded} inputs decoded: the mutations are too coarse`);
  assert.equal(g[FLAG], undefined, "a decoder imported a module");
  assert.ok(performance.now() - started < 20_000, "the decoders are too slow");
});

Deno.test(`admitEntry never throws and never imports, whatever the entry (seed ${SEED})`, async () => {
  const f = fuzzer(SEED + 1);
  const dir = await Deno.makeTempDir({ prefix: "graflow-fuzz-" });
  try {
    const marker = `${dir}/marker`;
    await Deno.writeTextFile(
      `${dir}/evil.ts`,
      `Deno.writeTextFileSync(${JSON.stringify(marker)}, "x");`,
    );
    await Deno.mkdir(`${dir}/allowed`);
    for (const allow of [[], [`${dir}/allowed`]]) {
      const allowlist = await ModuleAllowlist.create(allow);
      for (const signer of [new Signer("s3cret", "fz"), new Signer(undefined, "fz")]) {
        const verdicts = new Map<string, number>();
        for (let i = 0; i < 1500; i++) {
          const job = f.rnd() < 0.5 ? f.mutateTree(validJob()) : validJob();
          const jo = job as Record<string, unknown>;
          if (f.rnd() < 0.4) {
            jo.module = f.pick([
              `file://${dir}/evil.ts`,
              `file://${dir}/allowed/../evil.ts`,
              `file://${dir}/allowed/%2e%2e/evil.ts`,
              "data:text/javascript,globalThis." + FLAG + "=1",
              f.str(30),
            ]);
            if (f.rnd() < 0.5) jo.taskId = "sec_fuzz_unknown";
          }
          const m = f.rnd() < 0.3 ? f.mutateText(JSON.stringify(job)) : JSON.stringify(job);
          const fields: Record<string, string> = { m };
          if (f.rnd() < 0.7) fields.s = signer.sign("job", "run-1", "job-1", m) || f.str(64);
          if (f.rnd() < 0.05) delete fields.m;
          const r = await admitEntry({ id: `${i}-0`, fields, deliveries: 1 + f.int(12) }, {
            signer,
            maxDeliveries: 10,
            allowlist,
            workerId: "fuzz",
            admit: async () => f.pick(["ok", "ok", "done", "copy", "unknown"] as const),
            log: () => {},
          });
          const verdict = "poison" in r ? "poison" : "drop" in r ? "drop" : "run";
          verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
          if ("poison" in r) assert.ok(r.poison.length > 0);
          if ("task" in r) assert.equal(r.task, okTask);
        }
        assert.ok(
          verdicts.get("poison")! > 0 && verdicts.get("run")! > 0,
          JSON.stringify([...verdicts]),
        );
      }
    }
    assert.equal(
      await Deno.stat(marker).then(() => true, () => false),
      false,
      "evil.ts was imported",
    );
    assert.equal(g[FLAG], undefined, "a data: module was imported");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    `A live worker takes 300 mutated entries without crashing or hanging, then runs a real job (seed ${SEED})`,
  ignore: NO_REDIS,
  async fn() {
    const f = fuzzer(SEED + 2);
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const url = server.url();
    await using worker = await runWorker({ url, prefix, blockMs: 50, concurrency: 20 });
    await using redis = attacker(url);
    const pipe = redis.pipeline();
    for (let i = 0; i < 300; i++) {
      const job = f.mutateTree(validJob()) as Record<string, unknown>;
      const m = f.rnd() < 0.4 ? f.mutateText(JSON.stringify(job)) : JSON.stringify(job);
      // Some are registered as their run's job, so they pass admission and reach the task lookup.
      if (typeof job.job === "string" && typeof job.runId === "string" && f.rnd() < 0.5) {
        pipe.hset(`${prefix}:run:{${job.runId}}:jobs`, job.job, `${1e12 + i}-0`);
      }
      pipe.xadd(
        `${prefix}:queue`,
        `${1e12 + i}-0`,
        "m",
        m,
        ...(f.rnd() < 0.3 ? ["s", f.str(64)] : []),
      );
    }
    await pipe.exec();
    const m = worker.metrics;
    await waitFor(async () => m.deadLettered + m.dropped + m.processed >= 300, 20_000);
    assert.equal(await redis.xlen(`${prefix}:queue`), 0);
    await using backend = redisBackend({ url, prefix });
    const r = await flow`${okTask}`.run({ backend, input: 7 });
    assert.equal(r.output, 7);
    assert.equal(g[FLAG], undefined);
  },
});

function nest(levels: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}
