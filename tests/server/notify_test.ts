/**
 * Notifications of new feedback requests to real receivers on loopback: a signed JSON webhook
 * (the HMAC is verified), a Slack-compatible payload with a link to the inbox, and a receiver
 * that fails with 500s, retried with growing delays; every attempt is visible in
 * `/notifications`, on the run's event stream and in the server's log.
 *
 * @module
 */
import assert from "assert";
import { createHmac, timingSafeEqual } from "node:crypto";
import { webhookSignature } from "../../src/server/mod.ts";
import { startServer, until, VIEWER } from "./server_fixture.ts";

const SECRET = "webhook-secret-0123456789";

interface Received {
  at: number;
  body: string;
  headers: Headers;
}

function receiver(fail = 0): { url: string; got: Received[]; close(): Promise<void> } {
  const got: Received[] = [];
  let failures = fail;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    got.push({ at: Date.now(), body: await req.text(), headers: req.headers });
    if (failures > 0) {
      failures--;
      return new Response("down", { status: 500 });
    }
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/hook`,
    got,
    close: () => server.shutdown(),
  };
}

function verify(secret: string, body: string, header: string | null): boolean {
  const want = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  const a = new TextEncoder().encode(want);
  const b = new TextEncoder().encode(header ?? "");
  return a.length === b.length && timingSafeEqual(a, b);
}

Deno.test("a new feedback request is POSTed signed to a webhook and as a Slack payload with a link to the inbox", async () => {
  const hook = receiver();
  const slack = receiver();
  try {
    await using t = await startServer({
      orchestrate: { intervalMs: 50 },
      publicUrl: "https://ops.example.com/",
      notify: {
        targets: [{ url: hook.url, secret: SECRET }, { url: slack.url, format: "slack" }],
        pollMs: 50,
      },
    });
    const s = await t.api("/runs", { method: "POST", json: { flow: "srv_approval", input: {} } });
    const runId = (s.body.run as { runId: string }).runId;
    await until(() => hook.got.length && slack.got.length, "both notifications");
    const h = hook.got[0];
    assert.ok(verify(SECRET, h.body, h.headers.get("x-graflow-signature")), "the HMAC verifies");
    assert.ok(!verify("another-secret-0123456", h.body, h.headers.get("x-graflow-signature")));
    assert.equal(webhookSignature(SECRET, h.body), h.headers.get("x-graflow-signature"));
    const payload = JSON.parse(h.body);
    assert.equal(payload.type, "feedback.requested");
    assert.equal(payload.request.runId, runId);
    assert.equal(payload.request.request.prompt, "Ship order 42?");
    assert.equal(payload.deliveryId, h.headers.get("x-graflow-delivery"));
    assert.match(payload.inboxUrl, /^https:\/\/ops\.example\.com\/ui\/inbox#/);
    const sl = JSON.parse(slack.got[0].body);
    assert.match(
      sl.text,
      /^Approval needed: Ship order 42\? \(run `.+`, task `srv_approve`\) <https:\/\/ops\.example\.com\/ui\/inbox#.+\|Open the inbox>$/,
    );
    assert.equal(sl.blocks[0].type, "section");
    assert.match(sl.blocks[1].elements[0].url, /^https:\/\/ops\.example\.com\/ui\/inbox#/);
    assert.equal(slack.got[0].headers.get("x-graflow-signature"), null, "no secret, no signature");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(hook.got.length, 1, "one notification per request");
    const d = await t.api(`/notifications?runId=${runId}`, { token: VIEWER });
    const deliveries = d.body.deliveries as { ok: boolean; target: string }[];
    assert.equal(deliveries.length, 2);
    assert.ok(deliveries.every((x) => x.ok));
    assert.ok(deliveries.every((x) => !x.target.includes("/hook")), "targets are named by origin");
  } finally {
    await hook.close();
    await slack.close();
  }
});

Deno.test("a failing receiver (500s) is retried with growing delays; failures show on the run's events and in the log", async () => {
  const hook = receiver(3);
  try {
    await using t = await startServer({
      orchestrate: { intervalMs: 50 },
      notify: {
        targets: [{ url: hook.url, secret: SECRET }],
        pollMs: 50,
        initialDelayMs: 100,
        retries: 5,
      },
    });
    const s = await t.api("/runs", { method: "POST", json: { flow: "srv_approval", input: {} } });
    const runId = (s.body.run as { runId: string }).runId;
    const ac = new AbortController();
    const stream = await fetch(`${t.url}/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${VIEWER}` },
      signal: ac.signal,
    });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while ((text.match(/event: notification/g) ?? []).length < 4) {
      text += (await reader.read()).value ?? "";
    }
    ac.abort();
    assert.equal(hook.got.length, 4);
    const gaps = hook.got.slice(1).map((g, i) => g.at - hook.got[i].at);
    assert.ok(gaps[0] >= 90, `first retry after ${gaps[0]} ms`);
    assert.ok(gaps[1] >= 190, `second retry after ${gaps[1]} ms`);
    assert.ok(gaps[2] >= 390, `third retry after ${gaps[2]} ms`);
    // Every attempt carries the same delivery id and a valid signature.
    assert.equal(new Set(hook.got.map((g) => g.headers.get("x-graflow-delivery"))).size, 1);
    assert.ok(hook.got.every((g) => verify(SECRET, g.body, g.headers.get("x-graflow-signature"))));
    assert.match(text, /"ok":false,"status":500,"error":"HTTP 500","final":false/);
    assert.match(text, /"attempt":4,"ok":true/);
    const log = t.events.filter((e) => e.type === "notification");
    assert.equal(log.length, 4);
    const page = await fetch(`${t.url}/ui/runs/${runId}`, {
      headers: { authorization: `Bearer ${VIEWER}` },
    });
    assert.match(await page.text(), /failed \(HTTP 500\), will retry/);
  } finally {
    await hook.close();
  }
});

Deno.test("a receiver that answers 400 is not retried; notification targets are checked at start", async () => {
  const hook = receiver();
  const bad = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response("no", { status: 400 }),
  );
  try {
    await using t = await startServer({
      orchestrate: { intervalMs: 50 },
      notify: {
        targets: [{ url: `http://127.0.0.1:${(bad.addr as Deno.NetAddr).port}/`, secret: SECRET }],
        pollMs: 50,
        initialDelayMs: 20,
      },
    });
    await t.api("/runs", { method: "POST", json: { flow: "srv_approval", input: {} } });
    await until(
      async () => ((await t.api("/notifications")).body.deliveries as unknown[]).length,
      "a delivery",
    );
    await new Promise((r) => setTimeout(r, 200));
    const ds = (await t.api("/notifications")).body.deliveries as {
      final: boolean;
      status: number;
    }[];
    assert.equal(ds.length, 1);
    assert.equal(ds[0].status, 400);
    assert.equal(ds[0].final, true);
    for (
      const targets of [
        [{ url: "ftp://x", secret: SECRET }],
        [{ url: "not a url", secret: SECRET }],
        [{ url: hook.url }],
        [{ url: hook.url, secret: "short" }],
        [{ url: hook.url, format: "teams" as "slack" }],
      ]
    ) {
      await assert.rejects(
        startServer({ notify: { targets } }),
        TypeError,
        JSON.stringify(targets),
      );
    }
  } finally {
    await hook.close();
    await bad.shutdown();
  }
});
