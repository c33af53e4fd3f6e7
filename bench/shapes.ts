/**
 * The workflow shapes the benchmarks measure, built with no-op tasks: a chain of n tasks, a
 * fan-out 1 → n → 1 (a parallel group of n members between two tasks) and an n-iteration loop
 * (`ctx.nextIteration`), for Graflow and for LangGraph.js (StateGraph, in memory, no
 * checkpointer), plus the floor: a bare loop of awaited async functions.
 *
 * @module
 */
import { type Flow, flow, parallel, type Task, task, type TaskContext } from "../mod.ts";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

/** The shapes measured. */
export type Shape = "chain" | "fanout" | "loop";

/** Every shape, in table order. */
export const SHAPES: readonly Shape[] = ["chain", "fanout", "loop"];

/** How each shape is described in tables. */
export const SHAPE_LABELS: Record<Shape, string> = {
  chain: "chain of n tasks",
  fanout: "fan-out 1 → n → 1",
  loop: "n-iteration loop",
};

const MODULE = import.meta.url;
const noop = (input: unknown) => input;
const chainTasks: Task[] = [];

/** The first `n` no-op chain tasks (`bench_c0`, `bench_c1`, …), defined on first use. */
function chainTask(i: number): Task {
  while (chainTasks.length <= i) {
    chainTasks.push(task(`bench_c${chainTasks.length}`, noop, { module: MODULE }));
  }
  return chainTasks[i];
}

const source = task("bench_source", noop, { module: MODULE });
const sink = task("bench_sink", noop, { module: MODULE });

/** One no-op task that runs itself again until its cycle count reaches its input. */
const loopStep = task("bench_loop", (n: number, ctx: TaskContext) => {
  if (ctx.cycle < n) ctx.nextIteration(n);
  return n;
}, { module: MODULE, maxCycles: 10_000_000 });

/**
 * A template strings array made at run time, as the `flow` tag receives it.
 *
 * @param text The template text (no interpolations).
 * @returns A fresh `TemplateStringsArray` (so it is not in the parse cache).
 */
export function template(text: string): TemplateStringsArray {
  return Object.assign([text], { raw: [text] }) as unknown as TemplateStringsArray;
}

/**
 * The text of an n-task chain template: `bench_c0 >> bench_c1 >> …`.
 *
 * @param n Number of tasks.
 * @returns The template text (the tasks are defined).
 */
export function chainText(n: number): string {
  for (let i = 0; i < n; i++) chainTask(i);
  return Array.from({ length: n }, (_, i) => `bench_c${i}`).join(" >> ");
}

/** A Graflow flow of one shape, ready to run, and what to pass to `run()`. */
export interface GraflowCase {
  /** The flow. */
  flow: Flow;
  /** Run options. */
  run: { input: number; maxSteps: number };
  /** Task executions one run makes. */
  tasks: number;
}

/**
 * Builds a Graflow flow of `shape` with `n` tasks (n members for the fan-out, n iterations
 * for the loop).
 *
 * @param shape The shape.
 * @param n Its size.
 * @returns The flow, its run options and how many tasks one run executes.
 */
export function graflowCase(shape: Shape, n: number): GraflowCase {
  switch (shape) {
    case "chain":
      return {
        flow: flow(template(chainText(n))),
        run: { input: 0, maxSteps: n },
        tasks: n,
      };
    case "fanout": {
      const members = Array.from({ length: n }, (_, i) => chainTask(i));
      return {
        flow: flow`${source} >> ${parallel(members, { name: "bench_fan" })} >> ${sink}`,
        run: { input: 0, maxSteps: n + 2 },
        tasks: n + 2,
      };
    }
    case "loop":
      return { flow: flow`${loopStep}`, run: { input: n, maxSteps: n }, tasks: n };
  }
}

/**
 * Runs a Graflow case once and checks that every task ran.
 *
 * @param c The case.
 * @returns The number of task executions.
 * @throws {Error} When the run executed a different number of tasks.
 */
export async function runGraflow(c: GraflowCase): Promise<number> {
  const result = await c.flow.run(c.run);
  if (result.steps !== c.tasks) {
    throw new Error(`Graflow ran ${result.steps} tasks, expected ${c.tasks}`);
  }
  return result.steps;
}

/**
 * Times repeated runs until at least `minMs` have passed, so that one figure spans many minor
 * garbage collections instead of landing between them (a 1,000-task run takes well under a
 * millisecond: timed alone, it is fast or 5–20× slower depending on whether a scavenge fell
 * inside it).
 *
 * @param run One run; resolves to the number of tasks it executed.
 * @param minMs The least time one figure spans (0: one run).
 * @param now The clock, in µs (wall time by default).
 * @returns µs per task over the batch.
 */
export async function batchPerTask(
  run: () => Promise<number>,
  minMs = 30,
  now: () => number = () => performance.now() * 1000,
): Promise<number> {
  let tasks = 0;
  const t0 = now();
  let elapsed = 0;
  do {
    tasks += await run();
    elapsed = now() - t0;
  } while (elapsed < minMs * 1000);
  return elapsed / tasks;
}

const bareStep = async (x: number): Promise<number> => x + 1;

/**
 * The floor: `n` awaited calls of a no-op async function.
 *
 * @param n Number of calls.
 * @returns `n`.
 */
export async function bareAwaitLoop(n: number): Promise<number> {
  let x = 0;
  for (let i = 0; i < n; i++) x = await bareStep(x);
  if (x !== n) throw new Error("bare loop miscounted");
  return n;
}

// --- LangGraph.js -----------------------------------------------------------------------------

const State = Annotation.Root({ i: Annotation<number> });

/** A compiled LangGraph.js graph (the builder's generic node names cannot follow a loop). */
// deno-lint-ignore no-explicit-any
type Builder = any;

/** A LangGraph.js graph of one shape, ready to invoke. */
export interface LangGraphCase {
  /** The compiled graph. */
  graph: { invoke(input: unknown, config: Record<string, unknown>): Promise<unknown> };
  /** The recursion limit one run needs (LangGraph counts supersteps). */
  recursionLimit: number;
  /** Node executions one run makes. */
  tasks: number;
  /** What the final state's `i` must be. */
  expect: number;
}

/** Thrown by a LangGraph.js node when the run passed its deadline. */
export class DeadlineExceeded extends Error {
  /** Creates the instance. */
  constructor() {
    super("LangGraph.js run stopped: it passed its deadline");
    this.name = "DeadlineExceeded";
  }
}

let deadline = Infinity;

/**
 * Builds the LangGraph.js graph of `shape` with `n` nodes: a chain of `addEdge`s; a fan-out
 * with an edge from one node to each of n nodes and a join (`addEdge([...n nodes], "sink")`);
 * a loop of one node with a conditional edge back to itself. Nodes are no-ops that only check
 * the deadline of {@linkcode runLangGraph} (LangGraph.js runs on microtasks, so a timer or an
 * `AbortSignal.timeout` would not fire before the run ends).
 *
 * @param shape The shape.
 * @param n Its size.
 * @returns The compiled graph and how to invoke it.
 */
export function langGraphCase(shape: Shape, n: number): LangGraphCase {
  const g: Builder = new StateGraph(State);
  const nop = () => {
    if (performance.now() > deadline) throw new DeadlineExceeded();
    return {};
  };
  switch (shape) {
    case "chain": {
      for (let k = 0; k < n; k++) g.addNode(`n${k}`, nop);
      g.addEdge(START, "n0");
      for (let k = 0; k + 1 < n; k++) g.addEdge(`n${k}`, `n${k + 1}`);
      g.addEdge(`n${n - 1}`, END);
      return { graph: g.compile(), recursionLimit: n + 10, tasks: n, expect: 0 };
    }
    case "fanout": {
      g.addNode("source", nop);
      g.addNode("sink", nop);
      const members: string[] = [];
      for (let k = 0; k < n; k++) {
        g.addNode(`m${k}`, nop);
        members.push(`m${k}`);
      }
      g.addEdge(START, "source");
      for (const m of members) g.addEdge("source", m);
      g.addEdge(members, "sink");
      g.addEdge("sink", END);
      return { graph: g.compile(), recursionLimit: 10, tasks: n + 2, expect: 0 };
    }
    case "loop": {
      g.addNode("step", (s: { i: number }) => ({ ...nop(), i: s.i + 1 }));
      g.addEdge(START, "step");
      g.addConditionalEdges("step", (s: { i: number }) => (s.i < n ? "step" : END));
      return { graph: g.compile(), recursionLimit: n + 10, tasks: n, expect: n };
    }
  }
}

/**
 * Invokes a LangGraph.js case once and checks the final state.
 *
 * @param c The case.
 * @param maxMs Stop the run (a node throws {@linkcode DeadlineExceeded}) after this long.
 * @returns The number of node executions.
 * @throws {Error} When the final state is not the expected one.
 * @throws {DeadlineExceeded} When the run took longer than `maxMs`.
 */
export async function runLangGraph(c: LangGraphCase, maxMs = Infinity): Promise<number> {
  deadline = performance.now() + maxMs;
  try {
    const out = await c.graph.invoke({ i: 0 }, { recursionLimit: c.recursionLimit }) as {
      i: number;
    };
    if (out.i !== c.expect) {
      throw new Error(`LangGraph ended with i=${out.i}, expected ${c.expect}`);
    }
    return c.tasks;
  } catch (error) {
    // Nodes of one superstep that all passed the deadline fail together (an AggregateError).
    if (performance.now() > deadline) throw new DeadlineExceeded();
    throw error;
  } finally {
    deadline = Infinity;
  }
}
