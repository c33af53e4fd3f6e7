/**
 * The JSON API: runs (list, get, start a registered flow, cancel, retry, live events), feedback
 * requests (list, get, answer, cancel), flows, notification deliveries. Described by
 * `/openapi.json` ({@linkcode openApiDocument}); every error is `{ status, code, message }`.
 *
 * @module
 */
import type { Hono } from "hono";
import { toJsonTree } from "../channels/codec.ts";
import { checkResponse } from "../checkpoint/feedback_errors.ts";
import { metricsResponse } from "../observability/run_metrics.ts";
import { graphShape } from "../graph/graph_version.ts";
import { keyedRunId } from "../run/recorded_run.ts";
import { readJson } from "./body.ts";
import { checkId, type Env, need, type ServerContext } from "./context.ts";
import { graphSvg } from "./graph_svg.ts";
import { HttpError, json } from "./http_error.ts";
import { openApiDocument } from "./openapi.ts";
import { boolParam, intParam, runQuery } from "./query.ts";
import { apiError, apiFeedback, apiRun } from "./views.ts";

/**
 * Lists runs, mapping a malformed cursor to 400 `BAD_CURSOR`.
 *
 * @param ctx The server.
 * @param q The query.
 * @returns The page.
 */
export async function listRuns(ctx: ServerContext, q: URLSearchParams) {
  const query = runQuery(q);
  try {
    const page = await ctx.store.list(query);
    const now = Date.now();
    return {
      runs: page.runs.map((r) => apiRun(r, now)),
      ...(page.cursor ? { cursor: page.cursor } : {}),
    };
  } catch (error) {
    if (query.cursor && error instanceof TypeError && /cursor/.test(error.message)) {
      throw new HttpError(400, "BAD_CURSOR", error.message);
    }
    throw error;
  }
}

/**
 * Starts a registered flow: records a queued run (an orchestrator runs it).
 *
 * @param ctx The server.
 * @param body `{ flow, input?, idempotencyKey? }`.
 * @returns The run and whether it was created (false: the key's existing run).
 */
export async function startRun(ctx: ServerContext, body: Record<string, unknown>) {
  const extra = Object.keys(body).filter((k) => !["flow", "input", "idempotencyKey"].includes(k));
  if (extra.length) {
    throw new HttpError(
      422,
      "INVALID_BODY",
      `Cannot start a run: unknown field ${
        JSON.stringify(extra[0])
      } (expected flow, input, idempotencyKey)`,
    );
  }
  if (typeof body.flow !== "string" || body.flow === "") {
    throw new HttpError(
      422,
      "INVALID_BODY",
      "Cannot start a run: flow must be the name of a registered flow",
    );
  }
  const key = body.idempotencyKey;
  if (key !== undefined && (typeof key !== "string" || key === "" || key.length > 256)) {
    throw new HttpError(
      422,
      "INVALID_BODY",
      "Cannot start a run: idempotencyKey must be a string of 1-256 characters",
    );
  }
  const flow = ctx.startable().find((f) => f.name === body.flow);
  if (!flow) {
    const names = ctx.startable().map((f) => f.name).join(", ");
    throw new HttpError(
      404,
      "FLOW_NOT_FOUND",
      `Cannot start flow ${
        JSON.stringify(body.flow.slice(0, 128))
      }: it is not registered in the server${
        names ? ` (startable: ${names})` : " (no flow is startable: start the server with --module)"
      }`,
    );
  }
  const runId = key !== undefined ? keyedRunId(flow.name!, key as string) : crypto.randomUUID();
  const { record, created } = await ctx.store.create({
    runId,
    flow: flow.name!,
    version: flow.version,
    graph: graphShape(flow.graph),
    input: toJsonTree(body.input, "run input"),
    status: "queued",
    ...(key !== undefined ? { idempotencyKey: key as string } : {}),
  });
  return { run: apiRun(record), created };
}

/**
 * Answers a feedback request as `by`.
 *
 * @param ctx The server.
 * @param id The request.
 * @param body `{ approved }`, `{ text }` or `{ selected }`.
 * @param by The token's name.
 * @returns The request with its answer.
 */
export async function answerFeedback(
  ctx: ServerContext,
  id: string,
  body: Record<string, unknown>,
  by: string,
) {
  const extra = Object.keys(body).filter((k) => !["approved", "text", "selected"].includes(k));
  if (extra.length) {
    throw new HttpError(
      422,
      "INVALID_ANSWER",
      `Cannot answer feedback request "${id}": unknown field ${
        JSON.stringify(extra[0])
      } (expected approved, text or selected; respondedBy is the token's name)`,
    );
  }
  const record = await ctx.store.feedback.get(id);
  if (!record) {
    throw new HttpError(
      404,
      "FEEDBACK_NOT_FOUND",
      `Cannot answer feedback request "${id}": no such request`,
    );
  }
  try {
    checkResponse(record, body);
  } catch (error) {
    throw new HttpError(422, "INVALID_ANSWER", (error as Error).message);
  }
  const answer = {
    ...(typeof body.approved === "boolean" ? { approved: body.approved } : {}),
    ...(typeof body.text === "string" ? { text: body.text } : {}),
    ...(typeof body.selected === "string" ? { selected: body.selected } : {}),
    respondedBy: by,
    respondedAt: new Date().toISOString(),
  };
  const done = apiFeedback(await ctx.store.feedback.respond(id, answer));
  ctx.hub.publish({
    runId: done.runId,
    event: "feedback",
    data: { event: "settled", request: done },
  });
  return done;
}

/**
 * Cancels a feedback request as `by`.
 *
 * @param ctx The server.
 * @param id The request.
 * @param reason Why.
 * @param by The token's name.
 * @returns The cancelled request.
 */
export async function cancelFeedback(ctx: ServerContext, id: string, reason: unknown, by: string) {
  if (reason !== undefined && (typeof reason !== "string" || reason.length > 2000)) {
    throw new HttpError(
      422,
      "INVALID_BODY",
      "Cannot cancel a feedback request: reason must be a string of at most 2000 characters",
    );
  }
  const done = apiFeedback(
    await ctx.store.feedback.cancel(id, {
      at: new Date().toISOString(),
      by,
      ...(reason ? { reason: reason as string } : {}),
    }),
  );
  ctx.hub.publish({
    runId: done.runId,
    event: "feedback",
    data: { event: "settled", request: done },
  });
  return done;
}

/**
 * A run with its attempts, executions, graph, feedback requests and notification deliveries.
 *
 * @param ctx The server.
 * @param runId The run.
 * @returns The details.
 */
export async function runDetails(ctx: ServerContext, runId: string) {
  const record = await ctx.store.get(runId);
  if (!record) {
    throw new HttpError(
      404,
      "RUN_NOT_FOUND",
      `Cannot find run "${runId}": no such run in the store`,
    );
  }
  const feedback = (await ctx.store.feedback.list({ runId, limit: 1000 })).map(apiFeedback);
  const pending = new Set(feedback.filter((f) => f.state === "pending").map((f) => f.taskId));
  const view = await ctx.views.view(record, pending);
  return {
    run: apiRun(record),
    ...(record.error ? { error: apiError(record.error) } : {}),
    attempts: view.attempts,
    steps: view.steps.map(({ input: _i, output: _o, ...s }) => s),
    ...(view.graph ? { graph: view.graph } : { graphNote: view.graphNote }),
    checkpoints: record.checkpoints,
    feedback,
    notifications: ctx.notifier.deliveries(runId),
    _view: view,
  };
}

/**
 * Adds the API's routes.
 *
 * @param app The app.
 * @param ctx The server.
 */
export function apiRoutes(app: Hono<Env>, ctx: ServerContext): void {
  const body = (c: { req: { raw: Request } }) => readJson(c.req.raw, ctx.maxBodyBytes);
  app.get("/health", async () => {
    try {
      await ctx.store.list({ limit: 1 });
      return json({ status: "ok", store: ctx.store.kind, clients: ctx.hub.clients });
    } catch {
      return json(
        { status: 503, code: "STORE_UNAVAILABLE", message: "Cannot read the run store" },
        503,
      );
    }
  });
  app.get("/openapi.json", () => json(openApiDocument()));
  // Run, task and feedback metrics of this process (Prometheus text, or OpenMetrics with
  // exemplars); a scraper presents a viewer token (`authorization.credentials_file`).
  app.get("/metrics", (c) => {
    need(c, "viewer");
    return metricsResponse(c.req.raw);
  });
  app.get("/flows", (c) => {
    need(c, "viewer");
    return json({
      flows: ctx.startable().map((f) => ({ name: f.name!, version: f.version, tasks: f.tasks })),
    });
  });
  app.get("/runs", async (c) => {
    need(c, "viewer");
    return json(await listRuns(ctx, new URL(c.req.url).searchParams));
  });
  app.post("/runs", async (c) => {
    need(c, "operator");
    const out = await startRun(ctx, await body(c));
    return json(out, out.created ? 201 : 200);
  });
  app.get("/runs/events", (c) => {
    need(c, "viewer");
    return ctx.hub.response(undefined);
  });
  app.get("/runs/:id", async (c) => {
    need(c, "viewer");
    const { _view, ...details } = await runDetails(ctx, checkId(c.req.param("id"), "run"));
    return json(details);
  });
  app.get("/runs/:id/steps/:step", async (c) => {
    need(c, "viewer");
    const runId = checkId(c.req.param("id"), "run");
    const n = intParam(c.req.param("step"), "step", 1, Number.MAX_SAFE_INTEGER)!;
    const { _view } = await runDetails(ctx, runId);
    const step = _view.steps.find((s) => s.step === n);
    if (!step) {
      throw new HttpError(404, "STEP_NOT_FOUND", `Cannot find step ${n} of run "${runId}"`);
    }
    return json({ ...step, attempts: _view.attempts.filter((a) => a.step === n) });
  });
  app.get("/runs/:id/graph.svg", async (c) => {
    need(c, "viewer");
    const { _view } = await runDetails(ctx, checkId(c.req.param("id"), "run"));
    if (!_view.graph) {
      throw new HttpError(404, "GRAPH_UNAVAILABLE", `Cannot draw the graph: ${_view.graphNote}`);
    }
    return new Response(graphSvg(_view.graph, `Executed graph of run ${c.req.param("id")}`), {
      headers: { "content-type": "image/svg+xml; charset=utf-8" },
    });
  });
  app.get("/runs/:id/events", async (c) => {
    need(c, "viewer");
    const runId = checkId(c.req.param("id"), "run");
    if (!await ctx.store.get(runId)) {
      throw new HttpError(
        404,
        "RUN_NOT_FOUND",
        `Cannot find run "${runId}": no such run in the store`,
      );
    }
    return ctx.hub.response(runId);
  });
  app.post("/runs/:id/cancel", async (c) => {
    need(c, "operator");
    const runId = checkId(c.req.param("id"), "run");
    await body(c);
    return json({ run: apiRun(await ctx.store.cancel(runId)) });
  });
  app.post("/runs/:id/retry", async (c) => {
    need(c, "operator");
    const runId = checkId(c.req.param("id"), "run");
    await body(c);
    return json({ run: apiRun(await ctx.store.retry(runId)) });
  });
  app.get("/feedback", async (c) => {
    need(c, "viewer");
    const q = new URL(c.req.url).searchParams;
    const runId = q.get("runId") ?? undefined;
    if (runId !== undefined) checkId(runId, "run");
    const list = await ctx.store.feedback.list({
      pending: boolParam(q.get("pending") ?? undefined, "pending") ?? false,
      ...(runId ? { runId } : {}),
      limit: intParam(q.get("limit") ?? undefined, "limit", 1, 1000) ?? 100,
    });
    return json({ requests: list.map(apiFeedback) });
  });
  app.get("/feedback/:id", async (c) => {
    need(c, "viewer");
    const id = checkId(c.req.param("id"), "feedback request");
    const r = await ctx.store.feedback.get(id);
    if (!r) throw new HttpError(404, "FEEDBACK_NOT_FOUND", `Cannot find feedback request "${id}"`);
    return json({ request: apiFeedback(r) });
  });
  app.post("/feedback/:id/answer", async (c) => {
    const who = need(c, "operator");
    const id = checkId(c.req.param("id"), "feedback request");
    return json({ request: await answerFeedback(ctx, id, await body(c), who.name) });
  });
  app.post("/feedback/:id/cancel", async (c) => {
    const who = need(c, "operator");
    const id = checkId(c.req.param("id"), "feedback request");
    const b = await body(c);
    return json({ request: await cancelFeedback(ctx, id, b.reason, who.name) });
  });
  app.get("/notifications", (c) => {
    need(c, "viewer");
    const runId = new URL(c.req.url).searchParams.get("runId") ?? undefined;
    return json({ deliveries: ctx.notifier.deliveries(runId) });
  });
}
