/**
 * The conformance suite every `RunStore` passes (`localRunStore`, `redisRunStore`): records,
 * idempotency, pages, leases and fencing, journals and snapshots, cancel, retry, claimable
 * runs, watch — with the same errors everywhere. Leases run on a fake clock given to the store.
 *
 * @module
 */
import assert from "assert";
import type { NewRun, RunStore } from "../../mod.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";

/** Makes a fresh, empty store on `clock`; `close` releases it. */
export type RunStoreFactory = (
  clock: FakeClock,
) => Promise<{ store: RunStore; close(): Promise<void> }>;

let n = 0;
function newRun(extra: Partial<NewRun> = {}): NewRun {
  return {
    runId: `suite-${Date.now().toString(36)}-${++n}`,
    flow: "suite_flow",
    version: "v1",
    graph: { tasks: ["a"], edges: [], groups: [] },
    input: { n },
    status: "queued",
    ...extra,
  };
}

const LEASE = 1_000;

/**
 * Registers the suite's tests.
 *
 * @param name The store's name, in test names.
 * @param make Makes a fresh store.
 * @param ignore Skip (e.g. no redis-server).
 */
export function runStoreSuite(name: string, make: RunStoreFactory, ignore = false): void {
  const test = (title: string, fn: (store: RunStore, clock: FakeClock) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      ignore,
      async fn() {
        const clock = new FakeClock({ start: Date.UTC(2026, 11, 1) });
        const { store, close } = await make(clock);
        try {
          await fn(store, clock);
        } finally {
          await close();
        }
      },
    });

  test("create and get round-trip; an existing run id is refused", async (store) => {
    const run = newRun();
    const { record, created } = await store.create(run);
    assert.equal(created, true);
    assert.equal(record.status, "queued");
    assert.deepEqual(record.input, run.input);
    assert.equal(record.fence, 0);
    assert.deepEqual(await store.get(run.runId), record);
    assert.deepEqual(await store.graph(run.runId), run.graph);
    assert.equal(await store.get("suite-nobody"), undefined);
    await assert.rejects(store.create(run), { code: "RUN_EXISTS" });
    await assert.rejects(store.graph("suite-nobody"), { code: "RUN_NOT_FOUND" });
  });

  test("an idempotency key makes one run, also under concurrent creates", async (store) => {
    const runs = Array.from({ length: 10 }, () => newRun({ idempotencyKey: "key-1" }));
    const results = await Promise.all(runs.map((r) => store.create(r)));
    assert.equal(results.filter((r) => r.created).length, 1);
    const ids = new Set(results.map((r) => r.record.runId));
    assert.equal(ids.size, 1, "every call sees the same run");
    assert.equal((await store.list()).runs.length, 1);
  });

  test("a running create holds a lease with fence 1", async (store, clock) => {
    const run = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
    const { record, lease } = await store.create(run);
    assert.deepEqual(lease, { owner: "p1", fence: 1 });
    assert.equal(record.owner, "p1");
    assert.equal(record.leaseUntil, clock.now() + LEASE);
    assert.ok(record.startedAt);
  });

  test(
    "list: newest first, filters, cursor pages without gaps or repeats",
    async (store, clock) => {
      const made: string[] = [];
      for (let i = 0; i < 7; i++) {
        await clock.advance(10);
        const run = newRun({ flow: i % 2 ? "odd" : "even" });
        await store.create(run);
        made.push(run.runId);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list({ limit: 3, ...(cursor ? { cursor } : {}) });
        assert.ok(page.runs.length <= 3);
        seen.push(...page.runs.map((r) => r.runId));
        cursor = page.cursor;
      } while (cursor);
      assert.deepEqual(seen, [...made].reverse());
      assert.deepEqual(
        (await store.list({ flow: "odd" })).runs.map((r) => r.runId),
        [made[5], made[3], made[1]],
      );
      const since = (await store.get(made[4]))!.createdAt;
      assert.deepEqual(
        (await store.list({ since })).runs.map((r) => r.runId),
        [made[6], made[5], made[4]],
      );
      assert.equal((await store.list({ status: "completed" })).runs.length, 0);
      assert.equal((await store.list({ status: ["queued", "completed"] })).runs.length, 7);
      await assert.rejects(store.list({ cursor: "not a cursor!" }), TypeError);
      await assert.rejects(store.list({ cursor: btoa("12:has space") }), TypeError);
      await assert.rejects(store.list({ limit: 0 }), RangeError);
      await assert.rejects(store.list({ limit: 1001 }), RangeError);
      await assert.rejects(store.list({ since: "yesterday" }), TypeError);
    },
  );

  test(
    "acquire: a live lease is kept, an expired one is taken with a higher fence",
    async (store, clock) => {
      const run = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
      const { lease: first } = await store.create(run);
      assert.equal(await store.acquire(run.runId, "p2", LEASE), undefined, "the lease is live");
      assert.ok(await store.renew(run.runId, first!, LEASE));
      await clock.advance(LEASE + 1);
      assert.deepEqual(await store.claimable(), [{ runId: run.runId, reason: "expired" }]);
      const second = await store.acquire(run.runId, "p2", LEASE);
      assert.deepEqual(second, { owner: "p2", fence: 2 });
      assert.equal(await store.acquire(run.runId, "p3", LEASE), undefined, "one taker only");
      // The old owner is fenced off everywhere.
      assert.equal(await store.renew(run.runId, first!, LEASE), undefined);
      await assert.rejects(
        store.append(run.runId, first!, [{ seq: 1, at: 0, tr: { t: "begin", input: 1 } }]),
        { code: "FENCED", message: /p2 holds it with fence 2/ },
      );
      await assert.rejects(store.update(run.runId, first!, { status: "completed" }), {
        code: "FENCED",
      });
      await assert.rejects(store.snapshot(run.runId, first!, { seq: 1, data: {} }), {
        code: "FENCED",
      });
      const rec = await store.get(run.runId);
      assert.equal(rec!.status, "running");
      assert.equal(rec!.owner, "p2");
    },
  );

  test("concurrent acquires of an expired run: exactly one wins", async (store, clock) => {
    const run = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
    await store.create(run);
    await clock.advance(LEASE + 1);
    const leases = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.acquire(run.runId, `p${i + 2}`, LEASE)),
    );
    assert.equal(leases.filter(Boolean).length, 1);
  });

  test("journal: entries in order, snapshots bound what is replayed, entries() keeps history", async (store) => {
    const run = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
    const { lease } = await store.create(run);
    const entry = (seq: number) => ({ seq, at: 1000 + seq, tr: { t: "take", step: seq } });
    await store.append(run.runId, lease!, [entry(1), entry(2), entry(3)]);
    await store.append(run.runId, lease!, [entry(4)]);
    assert.deepEqual((await store.journal(run.runId)).entries, [1, 2, 3, 4].map(entry));
    await store.snapshot(run.runId, lease!, { seq: 3, data: { steps: 3 } });
    await store.append(run.runId, lease!, [entry(5)]);
    const j = await store.journal(run.runId);
    assert.deepEqual(j.snapshot, { seq: 3, data: { steps: 3 } });
    assert.deepEqual(j.entries, [4, 5].map(entry));
    assert.deepEqual(await store.entries(run.runId), [1, 2, 3, 4, 5].map(entry));
    assert.deepEqual(await store.entries(run.runId, 4), [entry(5)]);
    await assert.rejects(store.append(run.runId, lease!, [entry(5)]), "a position is written once");
  });

  test("writes issued together: each succeeds or fails alone", async (store) => {
    const runs = Array.from({ length: 20 }, () => newRun());
    const key = `together-${n}`;
    const created = Promise.allSettled([
      ...runs.map((r) => store.create(r)),
      store.create(runs[3]),
    ]);
    const keyed = Promise.all([
      store.create(newRun({ idempotencyKey: key })),
      store.create(newRun({ idempotencyKey: key })),
    ]);
    const missing = store.update("suite-missing", { owner: "p1", fence: 1 }, {
      status: "completed",
    }).then(() => undefined, (e) => e);
    const results = await created;
    assert.equal(results.slice(0, 20).filter((r) => r.status === "fulfilled").length, 20);
    const dup = results[20];
    assert.ok(dup.status === "rejected" && dup.reason.code === "RUN_EXISTS");
    const [k1, k2] = await keyed;
    assert.deepEqual([k1.created, k2.created].sort(), [false, true]);
    assert.equal(k1.record.runId, k2.record.runId);
    assert.equal((await missing)?.code, "RUN_NOT_FOUND");
    for (const r of runs) assert.equal((await store.get(r.runId))?.runId, r.runId);
  });

  test("update with entries: appended and changed in one write, or neither", async (store) => {
    const run = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
    const { lease } = await store.create(run);
    const entry = (seq: number) => ({ seq, at: 1000 + seq, tr: { t: "ok", step: seq } });
    await store.append(run.runId, lease!, [entry(1)]);
    await assert.rejects(
      store.update(run.runId, lease!, { status: "completed" }, [entry(3)]),
      (e: Error & { code?: string }) =>
        e.code === "JOURNAL_CONFLICT" && /position 3/.test(e.message),
    );
    await assert.rejects(
      store.append(run.runId, lease!, [entry(1)]),
      (e: Error & { code?: string }) => e.code === "JOURNAL_CONFLICT",
    );
    assert.equal(
      (await store.get(run.runId))!.status,
      "running",
      "a refused update changes nothing",
    );
    assert.deepEqual(await store.entries(run.runId), [entry(1)]);
    const many = Array.from({ length: 2500 }, (_, i) => entry(i + 2));
    const done = await store.update(run.runId, lease!, { status: "completed", output: [] }, many);
    assert.equal(done.status, "completed");
    assert.deepEqual(done.output, []);
    assert.deepEqual(done.input, run.input);
    assert.equal((await store.entries(run.runId)).length, 2501);
    await assert.rejects(store.update(run.runId, lease!, {}, [entry(2502)]), { code: "FENCED" });
  });

  test("update: a final status ends the lease; a waiting run is claimable once answered", async (store) => {
    const run = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
    const { lease } = await store.create(run);
    const done = await store.update(run.runId, lease!, {
      status: "completed",
      output: { ok: true },
      steps: 3,
      finishedAt: "2026-12-01T00:00:01.000Z",
    });
    assert.equal(done.status, "completed");
    assert.deepEqual(done.output, { ok: true });
    assert.equal(done.owner, undefined);
    assert.equal(done.leaseUntil, undefined);
    assert.deepEqual(await store.claimable(), []);

    const w = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
    const { lease: wl } = await store.create(w);
    await store.feedback.create({
      id: `fb-${w.runId}`,
      runId: w.runId,
      taskId: "a",
      request: { type: "approval", prompt: "ok?", timeoutMs: 10 },
      createdAt: new Date().toISOString(),
    });
    await store.update(w.runId, wl!, {
      status: "waiting",
      feedback: { id: `fb-${w.runId}`, checkpoint: "" },
    });
    await store.release(w.runId, wl!);
    assert.deepEqual(await store.claimable(), [], "not before the answer");
    await store.feedback.respond(`fb-${w.runId}`, {
      approved: true,
      respondedAt: new Date().toISOString(),
    });
    assert.deepEqual(await store.claimable(), [{ runId: w.runId, reason: "answered" }]);
    assert.ok(await store.acquire(w.runId, "p2", LEASE));
  });

  test("cancel: queued at once, running through its owner, finished ones refused", async (store) => {
    const q = newRun();
    await store.create(q);
    assert.equal((await store.cancel(q.runId)).status, "cancelled");
    assert.deepEqual(await store.claimable(), []);
    const r = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
    const { lease } = await store.create(r);
    const asked = await store.cancel(r.runId);
    assert.equal(asked.status, "running");
    assert.equal(asked.cancelRequested, true);
    assert.equal((await store.renew(r.runId, lease!, LEASE))!.cancelRequested, true);
    await store.update(r.runId, lease!, { status: "cancelled" });
    await assert.rejects(store.cancel(r.runId), { code: "RUN_FINISHED" });
    await assert.rejects(store.cancel("suite-nobody"), { code: "RUN_NOT_FOUND" });
  });

  test("retry: only failed runs, which become claimable", async (store) => {
    const r = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
    const { lease } = await store.create(r);
    await assert.rejects(store.retry(r.runId), { code: "RUN_NOT_FAILED" });
    await store.update(r.runId, lease!, {
      status: "failed",
      error: { name: "Error", message: "boom" },
    });
    const asked = await store.retry(r.runId);
    assert.equal(asked.retryRequested, true);
    assert.deepEqual(await store.claimable(), [{ runId: r.runId, reason: "retry" }]);
    const again = await store.acquire(r.runId, "p2", LEASE);
    assert.equal(again?.fence, 2);
    await assert.rejects(store.retry("suite-nobody"), { code: "RUN_NOT_FOUND" });
  });

  test("watch yields record changes and journal entries in order, until aborted", async (store) => {
    const run = newRun({ status: "running", owner: "p1", leaseMs: LEASE });
    const controller = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const e of store.watch({ runId: run.runId, signal: controller.signal })) {
        if (e.type === "run") seen.push(`run:${e.record.status}`);
        else seen.push(...e.entries.map((x) => `seq:${x.seq}`));
        if (seen.includes("run:completed")) controller.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const { lease } = await store.create(run);
    await store.append(run.runId, lease!, [{ seq: 1, at: 1, tr: {} }, { seq: 2, at: 2, tr: {} }]);
    await store.append(run.runId, lease!, [{ seq: 3, at: 3, tr: {} }]);
    await store.update(run.runId, lease!, { status: "completed" });
    const timeout = setTimeout(() => controller.abort(), 5_000);
    await watching;
    clearTimeout(timeout);
    assert.deepEqual(seen.filter((s) => s.startsWith("seq:")), ["seq:1", "seq:2", "seq:3"]);
    assert.equal(seen.at(-1), "run:completed");
    assert.ok(seen.indexOf("seq:3") < seen.indexOf("run:completed"));
  });
}
