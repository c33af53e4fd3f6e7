// deno-lint-ignore-file no-console
/**
 * The operations dashboard on a local store: starts a run store, an orchestrator and the server
 * (`serve()` from `@graflow/graflow/server`) in one process, registers two flows — an ETL job
 * with a parallel group, and a release that waits for a person's approval
 * (`ctx.requestFeedback`) — starts a few runs (one fails, to show an error with its causes),
 * and prints the dashboard's URL with a viewer and an operator token. Open the URL, log in with
 * the operator token, and approve the release in the inbox: the run continues.
 *
 *     deno run -A examples/dashboard.ts              # serves on http://127.0.0.1:8080 until Ctrl+C
 *     deno run -A examples/dashboard.ts --port 9000
 *     deno run -A examples/dashboard.ts --smoke      # approves through the API, prints, exits
 *
 * @module
 */
import { parseArgs } from "node:util";
import { flow, localRunStore, parallel, registerFlow, task, type TaskContext } from "../mod.ts";
import { serve } from "../src/server/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string", default: "8080" }, smoke: { type: "boolean" } },
});
const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

// An ETL job: extract >> (validate | profile) >> load.
const extract = task("dash_extract", async (rows: number, ctx: TaskContext) => {
  await pause(600, ctx.signal);
  return Array.from({ length: rows }, (_, i) => ({ id: i + 1, amount: (i * 37) % 100 }));
});
const validate = task("dash_validate", async (rows: { id: number; amount: number }[], ctx) => {
  await pause(800, ctx.signal);
  const bad = rows.filter((r) => r.amount === 0);
  if (rows.length > 50 && bad.length) {
    throw new Error(`${bad.length} rows have no amount`, {
      cause: new RangeError(`row ${bad[0].id}: amount 0 is not positive`),
    });
  }
  return rows.length - bad.length;
});
const profile = task("dash_profile", async (rows: { amount: number }[], ctx: TaskContext) => {
  await pause(500, ctx.signal);
  return { total: rows.reduce((s, r) => s + r.amount, 0) };
});
const load = task("dash_load", async (r: Record<string, unknown>, ctx: TaskContext) => {
  await pause(400, ctx.signal);
  return { loaded: r.dash_validate, ...(r.dash_profile as object) };
});
registerFlow("dash_etl", flow`${extract} >> ${parallel([validate, profile])} >> ${load}`);

// A release that waits for an approval.
const build = task("dash_build", async (version: string, ctx: TaskContext) => {
  await pause(500, ctx.signal);
  return { version, artifact: `app-${version}.tar.gz` };
});
const approve = task("dash_approve", async (b: { version: string; artifact: string }, ctx) => {
  const answer = await ctx.requestFeedback({
    type: "approval",
    prompt: `Deploy ${b.artifact} to production?`,
    timeoutMs: 3_600_000,
    metadata: { version: b.version },
  });
  if (!answer.approved) ctx.cancel(`the release of ${b.version} was rejected`);
  return { ...b, approvedBy: answer.respondedBy };
});
const deploy = task("dash_deploy", async (b: { version: string; approvedBy?: string }, ctx) => {
  await pause(500, ctx.signal);
  return `deployed ${b.version} (approved by ${b.approvedBy})`;
});
registerFlow("dash_release", flow`${build} >> ${approve} >> ${deploy}`);

const dir = await Deno.makeTempDir({ prefix: "graflow-dashboard-" });
const store = localRunStore({ dir });
const viewer = `viewer-${crypto.randomUUID()}`;
const operator = `operator-${crypto.randomUUID()}`;
const server = await serve({
  store,
  port: values.smoke ? 0 : Number(values.port),
  tokens: [{ name: "viewer", role: "viewer", token: viewer }, {
    name: "you",
    role: "operator",
    token: operator,
  }],
  orchestrate: { intervalMs: 200 },
});

const api = async (path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${operator}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return await res.json();
};
const started = [
  await api("/runs", { flow: "dash_etl", input: 20 }),
  await api("/runs", { flow: "dash_etl", input: 40 }),
  await api("/runs", { flow: "dash_etl", input: 120 }), // fails: some rows have no amount
  await api("/runs", { flow: "dash_release", input: "1.4.0", idempotencyKey: "release-1.4.0" }),
].map((r) => r.run.runId as string);

console.log(`Dashboard: ${server.url}/ui/`);
console.log(`Viewer token:   ${viewer}`);
console.log(`Operator token: ${operator}`);
console.log(`Started ${started.length} runs; the release waits for your approval in the inbox.`);

async function settle(runId: string): Promise<string> {
  for (;;) {
    const { run } = await api(`/runs/${runId}`);
    if (["completed", "failed", "cancelled", "terminated"].includes(run.status)) return run.status;
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (values.smoke) {
  let pending: { id: string }[] = [];
  while (!pending.length) {
    pending = (await api("/feedback?pending=true")).requests;
    await new Promise((r) => setTimeout(r, 100));
  }
  const answered = await api(`/feedback/${pending[0].id}/answer`, { approved: true });
  console.log(`Approved by ${answered.request.response.respondedBy}`);
  for (const runId of started) {
    const { run } = await api(`/runs/${runId}`);
    console.log(`${run.flow}: ${await settle(runId)}`);
  }
  await server.close();
  await store.close();
  await Deno.remove(dir, { recursive: true });
} else {
  const stop = async () => {
    await server.close();
    await store.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
