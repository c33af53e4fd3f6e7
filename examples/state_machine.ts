// deno-lint-ignore-file no-console
/**
 * A state machine with `ctx.nextIteration`: one task moves an order through
 * NEW → VALIDATED → PAID → SHIPPED, running again with the new state until the order is shipped.
 * Its successor (`notify`) waits, and runs once with the final state. A declined payment cancels
 * the run (`ctx.cancel`). Run it with:
 *
 *     deno run -A examples/state_machine.ts
 *
 * @module
 */
import { flow, task, type TaskContext, WorkflowCanceledError } from "../mod.ts";

type State = "NEW" | "VALIDATED" | "PAID" | "SHIPPED";

interface Order {
  id: string;
  state: State;
  items: number;
  card: "ok" | "declined";
  tracking?: string;
}

/** What each state does to the order, and which state comes next. */
const STEPS: Record<Exclude<State, "SHIPPED">, (o: Order, ctx: TaskContext) => Order> = {
  NEW: (o) => {
    if (o.items < 1) throw new RangeError(`Order ${o.id} has no items`);
    return { ...o, state: "VALIDATED" };
  },
  VALIDATED: (o, ctx) => {
    if (o.card === "declined") {
      ctx.cancel(`payment for order ${o.id} was declined`); // applied when this task returns
      return o;
    }
    return { ...o, state: "PAID" };
  },
  PAID: (o) => ({ ...o, state: "SHIPPED", tracking: `TRK-${o.id}-${o.items}` }),
};

const advance = task("advance", async (order: Order, ctx: TaskContext) => {
  if (order.state === "SHIPPED") return order;
  const next = STEPS[order.state](order, ctx);
  if (next.state === order.state) {
    console.log(`  [cycle ${ctx.cycle}] order ${order.id}: stays ${order.state}`);
    return next;
  }
  await ctx.channel.append("history", `${order.state} -> ${next.state}`);
  console.log(`  [cycle ${ctx.cycle}] order ${order.id}: ${order.state} -> ${next.state}`);
  if (next.state !== "SHIPPED") ctx.nextIteration(next); // run `advance` again with `next`
  return next;
}, { maxCycles: 10 });

const notify = task("notify", (order: Order) => {
  const text = `order ${order.id} is ${order.state} (tracking ${order.tracking})`;
  console.log(`  notify: ${text}`);
  return text;
});

const lifecycle = flow`${advance} >> ${notify}`; // Task objects work as well as names

console.log("Order A1 (pays):");
const result = await lifecycle.run({
  input: { id: "A1", state: "NEW", items: 3, card: "ok" } satisfies Order,
});
console.log(`  status: ${result.status}, steps: ${result.steps}`);
console.log(`  completed: ${result.completed.join(", ")}`);
console.log(`  history: ${(await result.channel.get<string[]>("history"))?.join(" | ")}`);
console.log("  executed graph:");
console.log(result.graph.toAscii().trimEnd().replace(/^/gm, "    "));

console.log("\nOrder B2 (card declined):");
try {
  await lifecycle.run({ input: { id: "B2", state: "NEW", items: 1, card: "declined" } });
  console.log("  unexpected: the run completed");
} catch (error) {
  if (!(error instanceof WorkflowCanceledError)) throw error;
  console.log(`  ${error.name} (code ${error.code}) from task "${error.taskId}": ${error.reason}`);
}
