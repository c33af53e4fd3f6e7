// deno-lint-ignore-file no-console
/**
 * An agent loop as a static cycle: `agent >> tool >> agent`. The agent (a scripted planner
 * standing in for a language model) picks a tool call; `tool` runs it and hands the result back
 * to `agent` over the back edge. When the agent has its answer it calls `ctx.terminate()`, and
 * the run ends with `status: "terminated"` and the answer as `output`. The conversation is kept
 * in the run's channel. A question the agent cannot answer runs into the agent's cycle budget
 * (`maxCycles`) instead of looping forever. Run it with:
 *
 *     deno run -A examples/agent_loop.ts
 *
 * @module
 */
import { CycleLimitExceededError, flow, task, type TaskContext } from "../mod.ts";

interface Question {
  items: Record<string, number>; // item -> quantity
  currency: "USD" | "EUR";
}

type ToolCall =
  | { tool: "lookup_price"; item: string }
  | { tool: "calculator"; terms: [number, number][] }
  | { tool: "convert"; amount: number; to: "EUR" };

interface ToolResult {
  call: ToolCall;
  value: number | null;
}

/** What the agent has learned so far (kept in the channel between turns). */
interface Memory {
  question: Question;
  prices: Record<string, number>;
  total?: number;
  converted?: number;
}

const CATALOG: Record<string, number> = { widget: 19.99, gadget: 4.5, gizmo: 120 };
const USD_TO_EUR = 0.92;

/** The "model": decides the next tool call from what it knows, or answers. */
function plan(m: Memory): ToolCall | { answer: string } {
  for (const item of Object.keys(m.question.items)) {
    if (!(item in m.prices)) return { tool: "lookup_price", item };
  }
  if (m.total === undefined) {
    return {
      tool: "calculator",
      terms: Object.entries(m.question.items).map(([item, qty]) => [qty, m.prices[item]]),
    };
  }
  if (m.question.currency === "EUR" && m.converted === undefined) {
    return { tool: "convert", amount: m.total, to: "EUR" };
  }
  const amount = m.question.currency === "EUR" ? m.converted! : m.total;
  return { answer: `The order costs ${amount.toFixed(2)} ${m.question.currency}` };
}

task("agent", async (input: Question | ToolResult, ctx: TaskContext) => {
  let memory = await ctx.channel.get<Memory>("memory");
  if (!memory) memory = { question: input as Question, prices: {} };
  else {
    const { call, value } = input as ToolResult;
    if (value !== null) {
      if (call.tool === "lookup_price") memory.prices[call.item] = value;
      if (call.tool === "calculator") memory.total = value;
      if (call.tool === "convert") memory.converted = value;
    }
  }
  await ctx.channel.set("memory", memory);
  const decision = plan(memory);
  if ("answer" in decision) {
    await ctx.channel.append("transcript", `agent (turn ${ctx.cycle}): ${decision.answer}`);
    ctx.terminate("answered");
    return decision.answer;
  }
  await ctx.channel.append(
    "transcript",
    `agent (turn ${ctx.cycle}): call ${JSON.stringify(decision)}`,
  );
  return decision;
}, { maxCycles: 8 });

task("tool", async (call: ToolCall, ctx: TaskContext): Promise<ToolResult> => {
  let value: number | null;
  switch (call.tool) {
    case "lookup_price":
      value = CATALOG[call.item] ?? null;
      break;
    case "calculator":
      value = Math.round(call.terms.reduce((s, [q, p]) => s + q * p, 0) * 100) / 100;
      break;
    case "convert":
      value = Math.round(call.amount * USD_TO_EUR * 100) / 100;
      break;
  }
  await ctx.channel.append("transcript", `tool  ${call.tool} -> ${value}`);
  return { call, value };
});

const loop = flow`agent >> tool >> agent`;

console.log("The flow (a static loop; the edge back to agent is a back edge):");
console.log(loop.toAscii());

const question: Question = { items: { widget: 3, gadget: 2 }, currency: "EUR" };
console.log(`Question: ${JSON.stringify(question)}`);
const result = await loop.run({ input: question });
for (const line of (await result.channel.get<string[]>("transcript")) ?? []) {
  console.log(`  ${line}`);
}
console.log(`status: ${result.status}, steps: ${result.steps}`);
console.log(`output: ${result.output}`);
console.log("executed graph:");
console.log(result.graph.toAscii().trimEnd().replace(/^/gm, "  "));

const impossible: Question = { items: { unobtainium: 1 }, currency: "USD" };
console.log(`\nQuestion: ${JSON.stringify(impossible)}`);
try {
  await loop.run({ input: impossible });
  console.log("unexpected: the run completed");
} catch (error) {
  if (!(error instanceof CycleLimitExceededError)) throw error;
  console.log(`  ${error.name} (code ${error.code}): ${error.message}`);
}
