/**
 * The conformance suite every `FeedbackStore` passes (file, memory, Redis): create, get,
 * answer once, cancel once, list, and wait — with the same errors everywhere.
 *
 * @module
 */
import assert from "assert";
import type { FeedbackRecord, FeedbackStore } from "../../mod.ts";

/** Makes a fresh, empty store; `close` releases it. */
export type StoreFactory = () => Promise<{ store: FeedbackStore; close(): Promise<void> }>;

let seq = 0;
function record(runId = "run-a", type: "approval" | "text" = "approval"): FeedbackRecord {
  const n = ++seq;
  return {
    id: `fbs-${Date.now().toString(36)}-${n}`,
    runId,
    taskId: "approve",
    request: { type, prompt: `question ${n}`, timeoutMs: 1000 },
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  };
}

const answer = { approved: true, respondedBy: "ana", respondedAt: "2026-12-01T00:00:00.000Z" };

/**
 * Registers the suite's tests.
 *
 * @param name The store's name, in test names.
 * @param make Makes a fresh store.
 * @param ignore Skip (e.g. no redis-server).
 */
export function feedbackStoreSuite(name: string, make: StoreFactory, ignore = false): void {
  const test = (title: string, fn: (store: FeedbackStore) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      ignore,
      async fn() {
        const { store, close } = await make();
        try {
          await fn(store);
        } finally {
          await close();
        }
      },
    });

  test("create and get round-trip; creating an id again keeps the first", async (store) => {
    const r = record();
    assert.equal(await store.get(r.id), undefined);
    await store.create(r);
    assert.deepEqual(await store.get(r.id), r);
    await store.create({ ...r, taskId: "other" });
    assert.equal((await store.get(r.id))!.taskId, "approve");
  });

  test("an answer is stored once; a second answer and unknown ids are refused", async (store) => {
    const r = record();
    await store.create(r);
    const answered = await store.respond(r.id, answer);
    assert.deepEqual(answered.response, answer);
    assert.deepEqual((await store.get(r.id))!.response, answer);
    await assert.rejects(store.respond(r.id, { ...answer, approved: false }), {
      code: "FEEDBACK_ALREADY_ANSWERED",
    });
    await assert.rejects(store.respond("fbs-nobody", answer), { code: "FEEDBACK_NOT_FOUND" });
    assert.deepEqual((await store.get(r.id))!.response, answer, "the first answer stays");
  });

  test("two answers at once: exactly one wins", async (store) => {
    const r = record();
    await store.create(r);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.respond(r.id, { ...answer, respondedBy: `p${i}` })),
    );
    const won = outcomes.filter((o) => o.status === "fulfilled");
    assert.equal(won.length, 1, JSON.stringify(outcomes.map((o) => o.status)));
    const stored = (await store.get(r.id))!.response!;
    assert.equal(
      stored.respondedBy,
      (won[0] as PromiseFulfilledResult<FeedbackRecord>).value.response!.respondedBy,
    );
  });

  test("wait returns an existing answer at once and a later one when it comes", async (store) => {
    const a = record();
    await store.create(a);
    await store.respond(a.id, answer);
    assert.deepEqual(await store.wait(a.id, new AbortController().signal), answer);
    const b = record();
    await store.create(b);
    const waiting = store.wait(b.id, AbortSignal.timeout(10_000));
    await new Promise((r) => setTimeout(r, 30));
    await store.respond(b.id, { ...answer, respondedBy: "bo" });
    assert.equal((await waiting).respondedBy, "bo");
  });

  test("wait rejects with the signal's reason on abort", async (store) => {
    const r = record();
    await store.create(r);
    const controller = new AbortController();
    const waiting = store.wait(r.id, controller.signal);
    const reason = new Error("gave up");
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(waiting, (e) => e === reason);
  });

  test("cancel settles an open request: wait rejects, answers are refused", async (store) => {
    const r = record();
    await store.create(r);
    const waiting = store.wait(r.id, AbortSignal.timeout(10_000));
    await new Promise((res) => setTimeout(res, 20));
    const cancelled = await store.cancel(r.id, {
      at: answer.respondedAt,
      by: "ops",
      reason: "obsolete",
    });
    assert.deepEqual(cancelled.cancelled, {
      at: answer.respondedAt,
      by: "ops",
      reason: "obsolete",
    });
    await assert.rejects(waiting, {
      code: "FEEDBACK_CANCELLED",
      message: /was cancelled: obsolete/,
    });
    await assert.rejects(store.respond(r.id, answer), { code: "FEEDBACK_CANCELLED" });
    await assert.rejects(store.cancel(r.id, { at: answer.respondedAt }), {
      code: "FEEDBACK_CANCELLED",
    });
    const done = record();
    await store.create(done);
    await store.respond(done.id, answer);
    await assert.rejects(store.cancel(done.id, { at: answer.respondedAt }), {
      code: "FEEDBACK_ALREADY_ANSWERED",
    });
    await assert.rejects(store.cancel("fbs-nobody", { at: answer.respondedAt }), {
      code: "FEEDBACK_NOT_FOUND",
    });
  });

  test("list: newest first, pending only, by run, limited", async (store) => {
    const rs = [record("run-x"), record("run-x"), record("run-y"), record("run-x")];
    for (const r of rs) await store.create(r);
    await store.respond(rs[0].id, answer);
    await store.cancel(rs[1].id, { at: answer.respondedAt });
    const all = await store.list({ runId: "run-x" });
    assert.deepEqual(all.map((r) => r.id), [rs[3].id, rs[1].id, rs[0].id]);
    const pending = await store.list({ pending: true });
    assert.deepEqual(pending.map((r) => r.id), [rs[3].id, rs[2].id]);
    assert.deepEqual((await store.list({ limit: 1 })).map((r) => r.id), [rs[3].id]);
  });
}
