/**
 * Web Worker of `map_bench.ts`: runs LangGraph.js `Send` over n items, so that the benchmark
 * can stop a run that passes its cap by terminating the worker (LangGraph.js plans a superstep
 * of n sends before running any node, so a check inside the nodes cannot stop it in time).
 *
 * Receives `{ n, runs }`, answers `{ us }` (median µs per item of `runs` timed runs after one
 * warm-up run) or `{ error }`.
 *
 * @module
 */
import { Annotation, END, Send, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  n: Annotation<number>,
  // In-place append: a copying reducer (`a.concat(b)`) would make many items quadratic.
  results: Annotation<number[]>({
    reducer: (a, b) => {
      a.push(...b);
      return a;
    },
    default: () => [],
  }),
});

function sendGraph() {
  // deno-lint-ignore no-explicit-any
  const g: any = new StateGraph(State);
  g.addNode("source", () => ({}));
  g.addNode("item", (s: { i: number }) => ({ results: [s.i] }));
  g.addNode("sink", () => ({}));
  g.addEdge(START, "source");
  g.addConditionalEdges(
    "source",
    (s: { n: number }) => Array.from({ length: s.n }, (_, i) => new Send("item", { i })),
  );
  g.addEdge("item", "sink");
  g.addEdge("sink", END);
  return g.compile();
}

const graph = sendGraph();

async function once(n: number): Promise<number> {
  const t0 = performance.now();
  const out = await graph.invoke({ n, results: [] }, { recursionLimit: 10 }) as {
    results: number[];
  };
  if (out.results.length !== n) throw new Error(`LangGraph gathered ${out.results.length}`);
  return (performance.now() - t0) * 1000 / n;
}

const scope = globalThis as unknown as {
  onmessage: (e: MessageEvent<{ n: number; runs: number }>) => void;
  postMessage(m: unknown): void;
};
scope.onmessage = async (e) => {
  try {
    const { n, runs } = e.data;
    if (runs > 1) await once(n);
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) samples.push(await once(n));
    samples.sort((a, b) => a - b);
    scope.postMessage({ us: samples[samples.length >> 1] });
  } catch (error) {
    scope.postMessage({ error: String(error) });
  }
};
