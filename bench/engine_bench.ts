/**
 * Engine overhead with no-op tasks, measured by `deno bench` side by side with the floor (a bare
 * loop of 10,000 awaited async functions, the baseline of each group): a 10,000-task chain, a
 * 1 → 10,000 → 1 fan-out (a `parallel([...])` group of 10,000 members), a 10,000-iteration
 * `nextIteration` loop, and the parse of a 1,000-node template. Each figure is the time of one
 * whole run: divide by 10,000 (10,002 for the fan-out) for the cost per task; `deno bench`
 * prints the ratio to the floor.
 *
 *     deno bench -A bench/engine_bench.ts
 *
 * For the table of µs per task at 1k, 10k and 100k next to LangGraph.js, run
 * `deno run -A bench/overhead.ts`.
 *
 * @module
 */
import { flow } from "../mod.ts";
import {
  bareAwaitLoop,
  chainText,
  graflowCase,
  runGraflow,
  type Shape,
  template,
} from "./shapes.ts";

const N = 10_000;

const groups: [Shape, string][] = [
  ["chain", `chain of ${N} tasks`],
  ["fanout", `fan-out 1 → ${N} → 1`],
  ["loop", `${N}-iteration nextIteration loop`],
];

for (const [shape, name] of groups) {
  const c = graflowCase(shape, N);
  await runGraflow(c); // the first run builds the flow's plan; benchmark the runs after it
  // Bench functions must be `async` functions: `deno bench` awaits only those.
  Deno.bench(
    { name: `bare await loop, ${N} calls (floor)`, group: name, baseline: true },
    async () => {
      await bareAwaitLoop(N);
    },
  );
  Deno.bench({ name: `graflow: ${name}`, group: name }, async () => {
    await runGraflow(c);
  });
}

const text = chainText(1_000);
Deno.bench({ name: "parse + build a 1,000-node template", group: "dsl" }, () => {
  flow(template(text)); // a fresh strings array each time, so the parse cache never answers
});
const cached = template(text);
Deno.bench(
  { name: "flow tag on a cached 1,000-node template", group: "dsl", baseline: true },
  () => {
    flow(cached);
  },
);
