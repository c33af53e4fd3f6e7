/**
 * The runs API against a real server and store: list with filters and cursor pages, start
 * (idempotency), get (attempts, steps, executed graph with statuses, error with causes), step
 * details, SVG, cancel, retry, live events; every error status; every JSON response checked
 * against `/openapi.json`.
 *
 * @module
 */
import assert from "assert";
import { OPERATOR, startServer, storeTest, until, VIEWER } from "./server_fixture.ts";
import { pipeline } from "./fixtures/flows.ts";
import { graphShape } from "../../src/graph/graph_version.ts";

storeTest(
  "GET /health and /openapi.json need no token; the document is OpenAPI 3.1",
  async (kind) => {
    await using t = await startServer({ kind });
    const h = await t.api("/health", { token: null });
    assert.equal(h.status, 200);
    assert.deepEqual(h.body, { status: "ok", store: kind, clients: 0 });
    const res = await fetch(`${t.url}/openapi.json`);
    const doc = await res.json();
    assert.equal(doc.openapi, "3.1.0");
    for (const p of ["/runs", "/runs/{id}", "/runs/events", "/feedback/{id}/answer"]) {
      assert.ok(doc.paths[p], p);
    }
  },
);

storeTest(
  "GET /runs: filters, cursor pages without gaps or repeats, and 400 for every bad query",
  async (kind) => {
    await using t = await startServer({ kind });
    const made: string[] = [];
    for (let i = 0; i < 23; i++) {
      const runId = `run-${String(i).padStart(3, "0")}`;
      await t.store.create({
        runId,
        flow: i % 2 ? "srv_pipeline" : "srv_other",
        version: pipeline.version,
        graph: graphShape(pipeline.graph),
        input: i,
        status: "queued",
      });
      made.push(runId);
    }
    await t.store.cancel("run-003");
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await t.api(
        `/runs?limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        {
          token: VIEWER,
        },
      );
      assert.equal(r.status, 200);
      seen.push(...(r.body.runs as { runId: string }[]).map((x) => x.runId));
      cursor = r.body.cursor as string | undefined;
      pages++;
    } while (cursor);
    assert.equal(pages, 5);
    assert.deepEqual([...seen].sort(), [...made].sort());
    assert.equal(new Set(seen).size, 23);
    const byFlow = await t.api("/runs?flow=srv_pipeline&limit=100");
    assert.equal((byFlow.body.runs as unknown[]).length, 11);
    const cancelled = await t.api("/runs?status=cancelled,failed");
    assert.deepEqual((cancelled.body.runs as { runId: string }[]).map((r) => r.runId), ["run-003"]);
    const future = await t.api(
      `/runs?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    assert.deepEqual(future.body.runs, []);
    for (
      const [q, code] of [
        ["limit=0", "BAD_QUERY"],
        ["limit=1001", "BAD_QUERY"],
        ["limit=abc", "BAD_QUERY"],
        ["limit=2.5", "BAD_QUERY"],
        ["status=done", "BAD_QUERY"],
        ["since=yesterday", "BAD_QUERY"],
        ["cursor=%%%", "BAD_CURSOR"],
        ["cursor=bm90LWEtY3Vyc29y", "BAD_CURSOR"],
      ]
    ) {
      const r = await t.api(`/runs?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.code, code, q);
      assert.match(String(r.body.message), /Cannot/, q);
    }
  },
);

storeTest(
  "POST /runs starts a registered flow; the same idempotency key gives the same run",
  async (kind) => {
    await using t = await startServer({ kind });
    const a = await t.api("/runs", {
      method: "POST",
      json: { flow: "srv_pipeline", input: { delayMs: 1 }, idempotencyKey: "k1" },
    });
    assert.equal(a.status, 201);
    const run = a.body.run as Record<string, unknown>;
    assert.equal(run.status, "queued");
    assert.equal(run.flow, "srv_pipeline");
    assert.equal(run.version, pipeline.version);
    const b = await t.api("/runs", {
      method: "POST",
      json: { flow: "srv_pipeline", input: { delayMs: 9 }, idempotencyKey: "k1" },
    });
    assert.equal(b.status, 200);
    assert.equal(b.body.created, false);
    assert.equal((b.body.run as { runId: string }).runId, run.runId);
    const flows = await t.api("/flows", { token: VIEWER });
    assert.ok((flows.body.flows as { name: string }[]).some((f) => f.name === "srv_approval"));

    const bad = async (init: RequestInit & { json?: unknown }, status: number, code: string) => {
      const r = await t.api("/runs", { method: "POST", ...init });
      assert.equal(r.status, status, JSON.stringify(init));
      assert.equal(r.body.code, code);
    };
    await bad({ json: { flow: "nope" } }, 404, "FLOW_NOT_FOUND");
    await bad({ json: { input: 1 } }, 422, "INVALID_BODY");
    await bad({ json: { flow: "srv_pipeline", inputs: 1 } }, 422, "INVALID_BODY");
    await bad({ json: { flow: "srv_pipeline", idempotencyKey: 5 } }, 422, "INVALID_BODY");
    await bad(
      { body: "{not json", headers: { "content-type": "application/json" } },
      400,
      "BAD_JSON",
    );
    await bad({ body: "[1,2]", headers: { "content-type": "application/json" } }, 400, "BAD_JSON");
    await bad(
      { body: "flow=x", headers: { "content-type": "text/plain" } },
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
    await bad({ json: { flow: "srv_pipeline", input: "x".repeat(70_000) } }, 413, "BODY_TOO_LARGE");
    // A chunked body (no Content-Length) is counted as it streams.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 80; i++) c.enqueue(new TextEncoder().encode("x".repeat(1000)));
        c.close();
      },
    });
    const r = await fetch(`${t.url}/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${OPERATOR}`, "content-type": "application/json" },
      body: stream,
    });
    assert.equal(r.status, 413);
    assert.equal((await r.json()).code, "BODY_TOO_LARGE");
  },
);

storeTest(
  "GET /runs/{id}: attempts with timings, executed graph (group, loop, dynamic task), step input and output, SVG",
  async (kind) => {
    await using t = await startServer({ kind, orchestrate: { intervalMs: 50 } });
    const s = await t.api("/runs", {
      method: "POST",
      json: { flow: "srv_pipeline", input: { delayMs: 5 } },
    });
    const runId = (s.body.run as { runId: string }).runId;
    const d = await until(async () => {
      const r = await t.api(`/runs/${runId}`, { token: VIEWER });
      return (r.body.run as { status: string }).status === "completed" ? r.body : undefined;
    }, "the run to complete");
    const attempts = d.attempts as {
      taskId: string;
      startedAt: number;
      endedAt: number;
      status: string;
    }[];
    assert.deepEqual(
      attempts.map((a) => a.taskId).sort(),
      [
        "srv_audit",
        "srv_fetch",
        "srv_left",
        "srv_publish",
        "srv_refine",
        "srv_refine",
        "srv_refine",
        "srv_right",
      ],
    );
    for (const a of attempts) {
      assert.equal(a.status, "succeeded");
      assert.ok(a.endedAt >= a.startedAt);
    }
    const graph = d.graph as {
      nodes: { id: string; status: string; count: number; dynamic: boolean; group?: string }[];
      edges: { from: string; to: string; kind: string }[];
      groups: { id: string; members: string[] }[];
    };
    const node = (id: string) => graph.nodes.find((n) => n.id === id)!;
    assert.equal(node("srv_refine").count, 3);
    assert.equal(node("srv_audit").dynamic, true);
    assert.ok(node("srv_left").group);
    assert.ok(graph.nodes.every((n) => n.status === "succeeded"), JSON.stringify(graph.nodes));
    assert.ok(
      graph.edges.some((e) =>
        e.from === "srv_refine" && e.to === "srv_refine" && e.kind === "iterate"
      ),
    );
    assert.ok(
      graph.edges.some((e) =>
        e.from === "srv_publish" && e.to === "srv_audit" && e.kind === "next"
      ),
    );
    assert.equal(graph.groups.length, 1);
    const steps = d.steps as { step: number; taskId: string }[];
    const fetchStep = steps.find((x) => x.taskId === "srv_fetch")!;
    const detail = await t.api(`/runs/${runId}/steps/${fetchStep.step}`, { token: VIEWER });
    assert.deepEqual(detail.body.input, { delayMs: 5 });
    assert.equal(detail.body.output, 5);
    const svg = await fetch(`${t.url}/runs/${runId}/graph.svg`, {
      headers: { authorization: `Bearer ${VIEWER}` },
    });
    assert.equal(svg.headers.get("content-type"), "image/svg+xml; charset=utf-8");
    const text = await svg.text();
    assert.match(text, /^<svg /);
    assert.match(text, /data-node="srv_audit" data-status="succeeded"/);
    assert.match(text, /node-dynamic/);
    assert.equal((await t.api(`/runs/${runId}/steps/999`)).status, 404);
    assert.equal((await t.api(`/runs/${runId}/steps/0`)).status, 400);
    assert.equal((await t.api("/runs/no-such-run")).status, 404);
    assert.equal((await t.api("/runs/no-such-run")).body.code, "RUN_NOT_FOUND");
    assert.equal((await t.api("/runs/bad%20id")).body.code, "BAD_ID");
  },
);

storeTest(
  "a failed run shows its error with the cause chain and stacks; retry and cancel answer 409 when they cannot apply",
  async (kind) => {
    await using t = await startServer({ kind, orchestrate: { intervalMs: 50 } });
    const s = await t.api("/runs", { method: "POST", json: { flow: "srv_failing" } });
    const runId = (s.body.run as { runId: string }).runId;
    const d = await until(async () => {
      const r = await t.api(`/runs/${runId}`);
      return (r.body.run as { status: string }).status === "failed" ? r.body : undefined;
    }, "the run to fail");
    const chain: string[] = [];
    for (let e = d.error as Record<string, unknown> | undefined; e; e = e.cause as typeof e) {
      chain.push(String(e.message));
      assert.ok(e.stack, "every level has its stack");
    }
    assert.deepEqual(chain.slice(-3), [
      "cannot reach the warehouse",
      "connection refused",
      "bad port 0",
    ]);
    const step = (d.steps as { step: number; error?: { message: string } }[])[0];
    assert.equal(step.error?.message, "cannot reach the warehouse");
    assert.equal((await t.api(`/runs/${runId}/cancel`, { method: "POST" })).status, 409);
    const retried = await t.api(`/runs/${runId}/retry`, { method: "POST" });
    assert.equal(retried.status, 200);
    assert.equal((retried.body.run as { retryRequested?: boolean }).retryRequested, true);
    await until(async () => {
      const r = (await t.api(`/runs/${runId}`)).body.run as Record<string, unknown>;
      return r.fence === 2 && r.status === "failed" && !r.retryRequested;
    }, "the orchestrator to retry the run (it fails again)");
    // The retry is a second attempt of the same execution, and the run page still draws.
    const again = (await t.api(`/runs/${runId}`)).body;
    const attempts = (again.attempts as { attempt: number; status: string }[])
      .map((a) => `${a.attempt}:${a.status}`);
    assert.deepEqual(attempts.slice(-2), ["1:failed", "2:failed"]);
    assert.ok(again.graph, `no graph: ${again.graphNote}`);
    assert.equal((await t.api("/runs/nope/retry", { method: "POST" })).status, 404);
    assert.equal((await t.api("/runs/nope/cancel", { method: "POST" })).status, 404);
  },
);

storeTest(
  "POST /runs/{id}/cancel cancels a queued run, a second cancel is 409, and a live-events client sees it",
  async (kind) => {
    await using t = await startServer({ kind });
    const s = await t.api("/runs", { method: "POST", json: { flow: "srv_pipeline", input: {} } });
    const runId = (s.body.run as { runId: string }).runId;
    const ac = new AbortController();
    const res = await fetch(`${t.url}/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${VIEWER}` },
      signal: ac.signal,
    });
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const all = await fetch(`${t.url}/runs/events`, {
      headers: { authorization: `Bearer ${VIEWER}` },
      signal: ac.signal,
    });
    await until(() => t.server.clients === 2, "two clients");
    const c = await t.api(`/runs/${runId}/cancel`, { method: "POST" });
    assert.equal((c.body.run as { status: string }).status, "cancelled");
    assert.equal((await t.api(`/runs/${runId}/retry`, { method: "POST" })).status, 409);
    assert.equal(
      (await t.api(`/runs/${runId}/cancel`, { method: "POST" })).body.code,
      "RUN_FINISHED",
    );
    for (const stream of [res, all]) {
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!/"status":"cancelled"/.test(text)) text += (await reader.read()).value ?? "";
      assert.match(text, /event: run\n/);
      reader.cancel();
    }
    ac.abort();
    assert.equal((await t.api("/runs/nope/events")).status, 404);
  },
);

storeTest(
  "GET /metrics needs a viewer token and counts the runs the server's orchestrator ran",
  async (kind) => {
    await using t = await startServer({ kind, orchestrate: { intervalMs: 50 } });
    assert.equal((await fetch(`${t.url}/metrics`)).status, 401);
    const s = await t.api("/runs", { method: "POST", json: { flow: "srv_pipeline", input: {} } });
    const runId = (s.body.run as { runId: string }).runId;
    await until(async () => {
      const r = (await t.api(`/runs/${runId}`)).body.run as { status: string };
      return r.status === "completed";
    }, "the run to complete");
    const scrape = async (accept?: string) => {
      const res = await fetch(`${t.url}/metrics`, {
        headers: { authorization: `Bearer ${VIEWER}`, ...(accept ? { accept } : {}) },
      });
      assert.equal(res.status, 200);
      return { type: res.headers.get("content-type") ?? "", text: await res.text() };
    };
    const text = await scrape();
    assert.match(text.type, /^text\/plain/);
    assert.match(
      text.text,
      /^graflow_runs_finished_total\{flow="srv_pipeline",status="completed"\} [1-9]/m,
    );
    assert.match(text.text, /^graflow_feedback_open /m);
    const om = await scrape("application/openmetrics-text; version=1.0.0");
    assert.match(om.type, /^application\/openmetrics-text/);
    assert.match(om.text, /# EOF\n$/);
  },
);
