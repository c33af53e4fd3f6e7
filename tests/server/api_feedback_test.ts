/**
 * The feedback API against a real server, store and orchestrator: a run waits for an approval,
 * the request is listed, read, answered (who answered comes from the token), the run completes;
 * wrong answers are 422, second answers 409, unknown requests 404, cancelled requests stay
 * cancelled.
 *
 * @module
 */
import assert from "assert";
import { startServer, storeTest, until, VIEWER } from "./server_fixture.ts";

storeTest(
  "feedback: list pending, get, answer as the token's name, and the run completes",
  async (kind) => {
    await using t = await startServer({ kind, orchestrate: { intervalMs: 50 } });
    const s = await t.api("/runs", { method: "POST", json: { flow: "srv_approval", input: {} } });
    const runId = (s.body.run as { runId: string }).runId;
    const list = await until(async () => {
      const r = await t.api("/feedback?pending=true", { token: VIEWER });
      return (r.body.requests as unknown[]).length
        ? r.body.requests as Record<string, unknown>[]
        : undefined;
    }, "the approval request");
    const req = list[0];
    assert.equal(req.runId, runId);
    assert.equal(req.state, "pending");
    assert.equal((req.request as { prompt: string }).prompt, "Ship order 42?");
    const id = String(req.id);
    const one = await t.api(`/feedback/${id}`, { token: VIEWER });
    assert.equal((one.body.request as { id: string }).id, id);
    const byRun = await t.api(`/feedback?runId=${runId}`);
    assert.equal((byRun.body.requests as unknown[]).length, 1);
    const detail = await t.api(`/runs/${runId}`);
    const graph = detail.body.graph as { nodes: { id: string; status: string }[] };
    assert.equal(graph.nodes.find((n) => n.id === "srv_approve")?.status, "waiting");

    const wrong = async (json: unknown, status: number, code: string) => {
      const r = await t.api(`/feedback/${id}/answer`, { method: "POST", json });
      assert.equal(r.status, status, JSON.stringify(json));
      assert.equal(r.body.code, code);
    };
    await wrong({ approved: "yes" }, 422, "INVALID_ANSWER");
    await wrong({ text: "ok" }, 422, "INVALID_ANSWER");
    await wrong({ approved: true, respondedBy: "mallory" }, 422, "INVALID_ANSWER");
    assert.equal(
      (await t.api(`/feedback/${id}/answer`, {
        method: "POST",
        token: VIEWER,
        json: { approved: true },
      })).status,
      403,
    );
    const ok = await t.api(`/feedback/${id}/answer`, { method: "POST", json: { approved: true } });
    assert.equal(ok.status, 200);
    const response = (ok.body.request as { response: Record<string, unknown> }).response;
    assert.equal(response.approved, true);
    assert.equal(response.respondedBy, "ops");
    await wrong({ approved: false }, 409, "FEEDBACK_ALREADY_ANSWERED");
    assert.equal((await t.api(`/feedback/${id}/cancel`, { method: "POST" })).status, 409);
    await until(async () => {
      const r = await t.api(`/runs/${runId}`);
      return (r.body.run as { status: string }).status === "completed";
    }, "the run to complete");
    const r = await t.api(`/runs/${runId}`);
    assert.deepEqual((r.body.run as { output: unknown }).output, { shipped: true, order: 42 });
    assert.equal((await t.api("/feedback?pending=true")).body.requests instanceof Array, true);
    assert.deepEqual((await t.api("/feedback?pending=true")).body.requests, []);

    assert.equal((await t.api("/feedback/nope")).status, 404);
    assert.equal(
      (await t.api("/feedback/nope/answer", { method: "POST", json: { approved: true } })).status,
      404,
    );
    assert.equal((await t.api("/feedback/nope/cancel", { method: "POST" })).status, 404);
    assert.equal((await t.api("/feedback?pending=maybe")).status, 400);
    assert.equal((await t.api("/feedback?limit=0")).status, 400);
    assert.equal((await t.api("/feedback?runId=a%20b")).status, 400);
  },
);

storeTest(
  "feedback: a selection answer must be one of the options; cancelling records who and why",
  async (kind) => {
    await using t = await startServer({ kind, orchestrate: { intervalMs: 50 } });
    await t.api("/runs", {
      method: "POST",
      json: { flow: "srv_approval", input: { kind: "selection" } },
    });
    await t.api("/runs", {
      method: "POST",
      json: { flow: "srv_approval", input: { kind: "text" } },
    });
    const list = await until(async () => {
      const r = await t.api("/feedback?pending=true");
      const requests = r.body.requests as Record<string, unknown>[];
      assert.equal(new Set(requests.map((x) => x.id)).size, requests.length, "listed twice");
      const types = new Set(requests.map((x) => (x.request as { type: string }).type));
      return types.has("selection") && types.has("text") ? requests : undefined;
    }, "two requests");
    const sel = list.find((x) => (x.request as { type: string }).type === "selection")!;
    const text = list.find((x) => (x.request as { type: string }).type === "text")!;
    const bad = await t.api(`/feedback/${sel.id}/answer`, {
      method: "POST",
      json: { selected: "slow" },
    });
    assert.equal(bad.status, 422);
    assert.match(String(bad.body.message), /"fast", "cheap"/);
    const good = await t.api(`/feedback/${sel.id}/answer`, {
      method: "POST",
      json: { selected: "cheap" },
    });
    assert.equal(
      (good.body.request as { response: { selected: string } }).response.selected,
      "cheap",
    );
    assert.equal(
      (await t.api(`/feedback/${text.id}/cancel`, { method: "POST", json: { reason: 7 } })).status,
      422,
    );
    const c = await t.api(`/feedback/${text.id}/cancel`, {
      method: "POST",
      json: { reason: "duplicate" },
    });
    assert.equal(c.status, 200);
    const cancelled = c.body.request as { cancelled: Record<string, string>; state: string };
    assert.equal(cancelled.state, "cancelled");
    assert.equal(cancelled.cancelled.by, "ops");
    assert.equal(cancelled.cancelled.reason, "duplicate");
    assert.equal(
      (await t.api(`/feedback/${text.id}/answer`, { method: "POST", json: { text: "late" } })).body
        .code,
      "FEEDBACK_CANCELLED",
    );
    // The run whose request was cancelled fails (the task's requestFeedback rejects).
    await until(async () => {
      const r = await t.api(`/runs/${text.runId}`);
      return (r.body.run as { status: string }).status === "failed";
    }, "the run with the cancelled request to fail");
  },
);
