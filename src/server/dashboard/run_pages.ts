/**
 * Dashboard pages of runs: the runs table (filters, pages, live updates, a start form for
 * operators), a run's page (record, actions, error with causes, executed graph, timeline of
 * attempts, feedback requests, notification deliveries) and a task execution's page (input,
 * output, error with stack).
 *
 * @module
 */
import type { Flow } from "../../dsl/flow.ts";
import { FINAL_STATUSES, type RunRecordStatus } from "../../store/run_store.ts";
import { STATUSES } from "../query.ts";
import { graphSvg } from "../graph_svg.ts";
import type { StepView } from "../run_view.ts";
import type { ApiError, ApiFeedback, ApiRun } from "../views.ts";
import type { Delivery } from "../notifier.ts";
import type { TaskAttempt } from "../../store/run_history.ts";
import type { GraphView } from "../run_view.ts";
import {
  badge,
  csrfField,
  duration,
  type Html,
  html,
  jsonBlock,
  type PageInfo,
  raw,
  time,
} from "./html.ts";
import { feedbackCard } from "./inbox_pages.ts";

const operator = (info: PageInfo) => info.principal?.role === "operator";

/**
 * The runs table.
 *
 * @param info The request.
 * @param page The runs and the next page's cursor.
 * @param filters The filters in force.
 * @param flows Flows that can be started.
 * @returns The main content.
 */
export function runsPage(
  info: PageInfo,
  page: { runs: ApiRun[]; cursor?: string },
  filters: { status?: string; flow?: string },
  flows: Flow[],
): Html {
  const next = new URLSearchParams();
  if (filters.status) next.set("status", filters.status);
  if (filters.flow) next.set("flow", filters.flow);
  if (page.cursor) next.set("cursor", page.cursor);
  const rows = page.runs.map((r) =>
    html`
      <tr data-run="${r.runId}" data-status="${r.status}">
        <td><a href="/ui/runs/${encodeURIComponent(r.runId)}">${r.runId}</a></td>
        <td>${r.flow}</td>
        <td>${badge(r.status)}${r.cancelRequested ? " (cancelling)" : ""}${r.retryRequested
          ? " (retry)"
          : ""}</td>
        <td>${time(r.startedAt ?? r.createdAt)}</td>
        <td>${duration(r.durationMs)}</td>
        <td>${r.steps}</td>
      </tr>
    `
  );
  return html`
    <h1>Runs</h1>
    <form method="get" action="/ui/" class="filters" role="search" aria-label="Filter runs">
    <label>Status <select name="status"><option value="">any</option>${STATUSES.map((s) =>
      html`<option ${filters.status === s ? raw("selected") : ""}>${s}</option>`
    )}</select></label>
    <label>Flow <input name="flow" value="${filters.flow ??
      ""}" list="flow-names" autocomplete="off"></label>
    <datalist id="flow-names">${flows.map((f) => html`<option value="${f.name}">`)}</datalist>
    <button type="submit">Filter</button></form>
    <div class="scroll">
      <table class="runs">
        <caption class="sr">Runs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Flow</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Steps</th>
          </tr>
        </thead>
        <tbody>${rows.length ? rows : html`
          <tr>
            <td colspan="6">No runs.</td>
          </tr>
        `}</tbody>
      </table>
    </div>
    ${page.cursor ? html`<p><a href="/ui/?${next.toString()}">Older runs →</a></p>` : ""}
    ${operator(info) && flows.length ? startForm(info, flows) : ""}
  `;
}

function startForm(info: PageInfo, flows: Flow[]): Html {
  return html`
    <details class="start">
      <summary>Start a run</summary>
      <form method="post" action="/ui/runs">${csrfField(info)}
    <label>Flow <select name="flow" required>${flows.map((f) =>
      html`<option>${f.name}</option>`
    )}</select></label>
    <label>Input (JSON) <textarea name="input" rows="3" spellcheck="false">null</textarea></label>
    <label>Idempotency key (optional) <input name="idempotencyKey" autocomplete="off"></label>
    <button type="submit">Start</button></form>
    </details>
  `;
}

function errorChain(e: ApiError): Html {
  const chain: ApiError[] = [];
  for (let c: ApiError | undefined = e; c && chain.length < 16; c = c.cause) chain.push(c);
  return html`<ol class="causes">${
    chain.map((c, i) =>
      html`<li><strong>${i ? "caused by " : ""}${c.name}${
        c.code ? ` (${c.code})` : ""
      }:</strong> ${c.message}${
        c.stack
          ? html`
            <details>
              <summary>Stack</summary>
              <pre>${c.stack}</pre>
            </details>
          `
          : ""
      }</li>`
    )
  }</ol>`;
}

function timeline(runId: string, attempts: TaskAttempt[], now: number): Html {
  if (!attempts.length) return html`<p>No task has started yet.</p>`;
  const shown = attempts.slice(-200);
  const t0 = shown[0].startedAt;
  const t1 = Math.max(...shown.map((a) => a.endedAt ?? now), t0 + 1);
  const W = 600;
  const LEFT = 170;
  const rowH = 18;
  const scale = (t: number) => LEFT + ((t - t0) / (t1 - t0)) * (W - LEFT - 10);
  const rows = shown.map((a, i) => {
    const x = scale(a.startedAt);
    const w = Math.max(2, scale(a.endedAt ?? now) - x);
    const y = 6 + i * rowH;
    const label = `${a.taskId}${a.attempt > 1 ? ` #${a.attempt}` : ""}`;
    return `<a href="/ui/runs/${encodeURIComponent(runId)}/steps/${a.step}"><title>${
      esc(`${label}: ${a.status}, ${duration((a.endedAt ?? now) - a.startedAt)}`)
    }</title><text x="4" y="${y + 12}">${
      esc(label.slice(0, 24))
    }</text><rect class="bar bar-${a.status}" x="${x.toFixed(1)}" y="${y + 2}" width="${
      w.toFixed(1)
    }" height="${rowH - 5}" rx="2"/></a>`;
  });
  const h = 12 + shown.length * rowH;
  return raw(
    `<svg class="timeline" role="img" aria-label="Timeline of task attempts" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}">${
      rows.join("")
    }<text class="axis" x="${W - 10}" y="${h - 2}" text-anchor="end">${
      esc(duration(t1 - t0))
    }</text></svg>`,
  );
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A run's page.
 *
 * @param info The request.
 * @param d The run's details.
 * @returns The main content.
 */
export function runPage(info: PageInfo, d: {
  run: ApiRun;
  error?: ApiError;
  attempts: (TaskAttempt & { error?: ApiError })[];
  steps: StepView[];
  graph?: GraphView;
  graphNote?: string;
  checkpoints: string[];
  feedback: ApiFeedback[];
  notifications: Delivery[];
}): Html {
  const r = d.run;
  const id = encodeURIComponent(r.runId);
  const final = FINAL_STATUSES.includes(r.status as RunRecordStatus);
  const actions = operator(info)
    ? html`<div class="actions">${
      !final || r.retryRequested
        ? html`
          <form method="post"
            action="/ui/runs/${id}/cancel">${csrfField(
              info,
            )}<button type="submit" class="danger">Cancel run</button></form>
        `
        : ""
    }${
      r.status === "failed" && !r.retryRequested
        ? html`
          <form method="post"
            action="/ui/runs/${id}/retry">${csrfField(
              info,
            )}<button type="submit">Retry from failed tasks</button></form>
        `
        : ""
    }</div>`
    : "";
  const now = Date.now();
  const pending = d.feedback.filter((f) => f.state === "pending");
  return html`
    <h1>Run <code>${r.runId}</code> ${badge(r.status)}</h1>
    <dl class="facts">
    <dt>Flow</dt><dd>${r.flow} <small>(version ${r.version})</small></dd>
    <dt>Created</dt><dd>${time(r.createdAt)}</dd>
    <dt>Started</dt><dd>${time(r.startedAt)}</dd>
    <dt>Finished</dt><dd>${time(r.finishedAt)}</dd>
    <dt>Duration</dt><dd>${duration(r.durationMs)}</dd>
    <dt>Steps</dt><dd>${Math.max(r.steps, d.steps.length)}</dd>
    ${r.owner
      ? html`
        <dt>Owner</dt>
        <dd>${r.owner}</dd>
      `
      : ""}
    ${r.idempotencyKey
      ? html`
        <dt>Idempotency key</dt>
        <dd>${r.idempotencyKey}</dd>
      `
      : ""}
    ${r.cancelRequested
      ? html`
        <dt>Note</dt>
        <dd>Cancel requested: its owner stops it.</dd>
      `
      : ""}
    ${r.retryRequested
      ? html`
        <dt>Note</dt>
        <dd>Retry requested: an orchestrator continues it.</dd>
      `
      : ""}
    </dl>
    ${actions}
    ${d.error
      ? html`<section aria-labelledby="err"><h2 id="err">Error</h2>${errorChain(d.error)}</section>`
      : ""}
    ${pending.length
      ? html`<section aria-labelledby="fb"><h2 id="fb">Waiting for an answer</h2>${
        pending.map((f) => feedbackCard(info, f, `/ui/runs/${id}`))
      }</section>`
      : ""}
    <section aria-labelledby="graph"><h2 id="graph">Executed graph</h2>
    ${d.graph
      ? html`
        <figure class="graph-box">${raw(
          graphSvg(d.graph, `Executed graph of run ${r.runId}`),
        )}</figure>
        <p class="legend"
          aria-hidden="true"><span class="key node-pending">pending</span><span class="key node-running">running</span><span class="key node-retrying">retrying</span><span class="key node-waiting">waiting</span><span class="key node-succeeded">succeeded</span><span class="key node-failed">failed</span><span class="key node-dynamic">added at run time</span></p>
      `
      : html`<p class="note">No graph: ${d.graphNote ?? "unavailable"}.</p>`}</section>
    <section aria-labelledby="tl">
      <h2 id="tl">Timeline</h2>
      <div class="scroll">${timeline(r.runId, d.attempts, now)}</div>
      <div class="scroll">
        <table>
          <caption class="sr">Task attempts</caption>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Task</th>
              <th scope="col">Attempt</th>
              <th scope="col">Start</th>
              <th scope="col">Duration</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>${d.attempts.slice(-500).map((a) =>
            html`
              <tr data-step="${a.step}" data-status="${a.status}">
                <td><a href="/ui/runs/${id}/steps/${a.step}">${a.step}</a></td>
                <td>${a.taskId}</td>
                <td>${a.attempt}</td>
                <td>+${duration(a.startedAt - (d.attempts[0]?.startedAt ?? a.startedAt))}</td>
                <td>${duration((a.endedAt ?? now) - a.startedAt)}</td>
                <td>${badge(a.status)}${a.error
                  ? html`
                    ${a.error.name}: ${a.error.message.slice(0, 160)}
                  `
                  : ""}</td>
              </tr>
            `
          )}</tbody>
        </table>
      </div>
    </section>
    ${r.output !== undefined
      ? html`<section aria-labelledby="out"><h2 id="out">Output</h2>${
        jsonBlock(r.output)
      }</section>`
      : ""}
    ${d.feedback.length
      ? html`
        <section aria-labelledby="fbs">
          <h2 id="fbs">Feedback requests</h2>
          <ul>${d.feedback.map((f) =>
            html`<li>${f.taskId}: ${f.request.prompt} — ${badge(f.state)}${
              f.response?.respondedBy ? ` by ${f.response.respondedBy}` : ""
            }${f.cancelled?.by ? ` by ${f.cancelled.by}` : ""}</li>`
          )}</ul>
        </section>
      `
      : ""}
    ${d.notifications.length
      ? html`
        <section aria-labelledby="nt">
          <h2 id="nt">Notifications</h2>
          <ul>${d.notifications.map((n) =>
            html`<li class="${n.ok ? "" : "bad"}">${time(n.at)} ${n.target} attempt ${n.attempt}: ${
              n.ok
                ? "delivered"
                : `failed (${n.error ?? n.status})${n.final ? ", gave up" : ", will retry"}`
            }</li>`
          )}</ul>
        </section>
      `
      : ""}
    ${d.checkpoints.length
      ? html`
        <section aria-labelledby="cp">
          <h2 id="cp">Checkpoints</h2>
          <ul>${d.checkpoints.map((c) => html`<li><code>${c}</code></li>`)}</ul>
        </section>
      `
      : ""}
  `;
}

/**
 * A task execution's page.
 *
 * @param runId The run.
 * @param step The execution.
 * @param attempts Its attempts.
 * @param note Why there is no input, if there is none.
 * @returns The main content.
 */
export function stepPage(
  runId: string,
  step: StepView,
  attempts: (TaskAttempt & { error?: ApiError })[],
  note?: string,
): Html {
  return html`<p><a href="/ui/runs/${encodeURIComponent(runId)}">← Run ${runId}</a></p>
<h1>Step ${step.step}: <code>${step.taskId}</code> ${badge(step.status)}</h1>
<ul>${
    attempts.map((a) =>
      html`<li>Attempt ${a.attempt}: ${badge(a.status)} ${
        duration((a.endedAt ?? Date.now()) - a.startedAt)
      }</li>`
    )
  }</ul>
<h2>Input</h2>${
    "input" in step
      ? jsonBlock(step.input)
      : html`<p class="note">Not shown: ${note ?? "unknown"}.</p>`
  }
<h2>Output</h2>${"output" in step ? jsonBlock(step.output) : html`<p>No output.</p>`}
${step.error ? html`<h2>Error</h2>${errorChain(step.error)}` : ""}`;
}
