// deno-lint-ignore-file no-console
/**
 * Dynamic routing with `ctx.next`: a classifier decides at run time what happens to each
 * payment request.
 *
 *     intake >> classify >> auto_approve >> notify
 *
 * - a normal request follows the static flow;
 * - a request from a watched country adds a new task (`fraud_check`) with `ctx.next(task)`:
 *   the static successors still run;
 * - a duplicate jumps to a node of the flow with `ctx.next(notify, input)`: a goto, so
 *   `auto_approve` is skipped;
 * - a large amount adds a new task with `{ goto: true }` (`manual_review`, static successors
 *   skipped), and that dynamic task itself jumps back into the flow with `ctx.next(notify)`.
 *
 * Run it with:
 *
 *     deno run -A examples/dynamic_routing.ts
 *
 * @module
 */
import { flow, task, type TaskContext } from "../mod.ts";

interface Request {
  id: string;
  amount: number;
  country: string;
  duplicateOf?: string;
}

interface Decision {
  id: string;
  decision: "approved" | "duplicate" | "reviewed";
  by: string;
}

const WATCHED = new Set(["XX"]);

const intake = task("intake", (r: Request) => ({ ...r, amount: Math.round(r.amount * 100) / 100 }));

const fraudCheck = task("fraud_check", async (r: Request, ctx: TaskContext) => {
  await ctx.channel.append("audit", `fraud_check ${r.id}: score 0.12 (country ${r.country})`);
  return { id: r.id, score: 0.12 };
});

const autoApprove = task("auto_approve", (r: Request): Decision => ({
  id: r.id,
  decision: "approved",
  by: "auto_approve",
}));

const notify = task("notify", async (d: Decision, ctx: TaskContext) => {
  const line = `${d.id}: ${d.decision} (by ${d.by})`;
  await ctx.channel.append("audit", `notify ${line}`);
  return line;
});

const manualReview = task("manual_review", (r: Request, ctx: TaskContext) => {
  // A dynamically added task can route too: jump to `notify`, a node of the flow.
  ctx.next(notify, { id: r.id, decision: "reviewed", by: "manual_review" } satisfies Decision);
  return { id: r.id, reviewer: "on-call" };
});

const classify = task("classify", (r: Request, ctx: TaskContext) => {
  if (r.duplicateOf) {
    // `notify` is a node of this flow: a goto, `auto_approve` does not run.
    ctx.next(notify, { id: r.id, decision: "duplicate", by: "classify" } satisfies Decision);
  } else if (r.amount > 10_000) {
    // A new task, but with goto: the static successors are skipped.
    ctx.next(manualReview, r, { goto: true });
  } else if (WATCHED.has(r.country)) {
    // A new task: it runs after `classify`, and `auto_approve` still runs as well.
    ctx.next(fraudCheck);
  }
  return r;
});

const routing = flow`${intake} >> ${classify} >> ${autoApprove} >> ${notify}`;

console.log("The static flow:");
console.log(routing.toAscii());

const requests: Request[] = [
  { id: "r1", amount: 120.5, country: "DE" },
  { id: "r2", amount: 80, country: "XX" },
  { id: "r3", amount: 120.5, country: "DE", duplicateOf: "r1" },
  { id: "r4", amount: 25_000, country: "FR" },
];

for (const request of requests) {
  const result = await routing.run({ input: request });
  console.log(`${request.id} (${JSON.stringify(request)})`);
  console.log(`  ran:    ${result.completed.join(" -> ")}`);
  console.log(`  output: ${result.output}`);
  for (const line of (await result.channel.get<string[]>("audit")) ?? []) {
    console.log(`  audit:  ${line}`);
  }
  if (request.id === "r4") {
    console.log("  executed graph (dynamic tasks marked):");
    console.log(result.graph.toAscii().trimEnd().replace(/^/gm, "    "));
    console.log("  as Mermaid:");
    console.log(result.graph.toMermaid().trimEnd().replace(/^/gm, "    "));
  }
}
