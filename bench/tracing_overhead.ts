// deno-lint-ignore-file no-console
/**
 * Per-task cost of observability, side by side in one process: the same no-op flows (a chain
 * and a wide group) with nothing recording, with Graflow's Prometheus metrics on, with an
 * OpenTelemetry SDK active (`BasicTracerProvider`, a `BatchSpanProcessor` to an exporter that
 * drops everything, an AsyncLocalStorage context manager), and with both. Prints a markdown
 * table of the median CPU time per task (user + system, which the load of other processes on a
 * shared machine disturbs less than wall time) and the added cost per task. Modes alternate
 * round by round.
 *
 *     deno run -A bench/tracing_overhead.ts [--repeats 7] [--sizes 1000,10000]
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import process from "node:process";
import {
  type Context,
  context,
  type ContextManager,
  ROOT_CONTEXT,
  trace,
} from "@opentelemetry/api";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { flow, graflowMetrics, parallel, task } from "../mod.ts";

function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i < 0 ? fallback : Deno.args[i + 1];
}
const REPEATS = Number(option("repeats", "7"));
const SIZES = option("sizes", "1000,10000").split(",").map(Number);

class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#als.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

/** Drops every span (what is measured is making and ending them, not shipping them). */
const dropAll: SpanExporter = {
  export(_spans: ReadableSpan[], done) {
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
};

let provider: BasicTracerProvider | undefined;
function tracingOn(): void {
  provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(dropAll, { maxQueueSize: 65_536 })],
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AlsContextManager());
}
async function tracingOff(): Promise<void> {
  await provider?.shutdown();
  trace.disable();
  context.disable();
}

function build(shape: "chain" | "group", n: number) {
  const noop = (x: unknown) => x;
  const tasks = Array.from({ length: n }, (_, i) => task(`to_${shape}_${n}_${i}`, noop));
  if (shape === "chain") {
    const text = tasks.map((t) => t.name).join(" >> ");
    return flow(Object.assign([text], { raw: [text] }) as unknown as TemplateStringsArray);
  }
  const a = task(`to_src_${n}`, noop);
  const z = task(`to_sink_${n}`, noop);
  return flow`${a} >> ${parallel(tasks, { name: `to_fan_${n}` })} >> ${z}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const flows = new Map<string, ReturnType<typeof build>>();
for (const shape of ["chain", "group"] as const) {
  for (const n of SIZES) flows.set(`${shape} ${n}`, build(shape, n));
}

type Mode = "off" | "metrics" | "tracing" | "tracing + metrics";
const MODES: Mode[] = ["off", "metrics", "tracing", "tracing + metrics"];

async function setMode(mode: Mode): Promise<void> {
  await tracingOff();
  graflowMetrics.disable();
  if (mode.includes("metrics")) graflowMetrics.enable();
  if (mode.includes("tracing")) tracingOn();
}

/** CPU time (user + system, µs) per task of one run: other processes' load matters less. */
async function once(key: string, f: ReturnType<typeof build>): Promise<number> {
  const n = Number(key.split(" ")[1]) + (key.startsWith("group") ? 2 : 0);
  const c0 = process.cpuUsage();
  await f.run({ input: 0, maxSteps: 1_000_000 });
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

// Modes alternate round by round, so that a slower stretch of the machine hits them all.
const samples = new Map<string, number[]>();
for (let round = 0; round < REPEATS + 2; round++) {
  console.error(`round ${round + 1} of ${REPEATS + 2}`);
  for (const mode of MODES) {
    await setMode(mode);
    for (const [key, f] of flows) {
      const v = await once(key, f);
      if (round < 2) continue; // warm-up rounds
      const k = `${mode}|${key}`;
      (samples.get(k) ?? samples.set(k, []).get(k)!).push(v);
    }
  }
}
await setMode("off");
const results: [Mode, Map<string, number>][] = MODES.map((mode) => [
  mode,
  new Map([...flows.keys()].map((key) => [key, median(samples.get(`${mode}|${key}`)!)])),
]);

const off = results[0][1];
console.log(
  `Per-task cost of observability (median of ${REPEATS} runs, CPU µs per task: user + system)\n`,
);
console.log(`| flow | ${results.map(([m]) => m).join(" | ")} |`);
console.log(`| --- | ${results.map(() => "---:").join(" | ")} |`);
for (const key of flows.keys()) {
  const cells = results.map(([m, r]) => {
    const v = r.get(key)!;
    return m === "off" ? v.toFixed(2) : `${v.toFixed(2)} (+${(v - off.get(key)!).toFixed(2)})`;
  });
  console.log(`| ${key} | ${cells.join(" | ")} |`);
}
