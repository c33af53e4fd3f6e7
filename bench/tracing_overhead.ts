// deno-lint-ignore-file no-console
/**
 * Per-task cost of observability, side by side in one process: the same no-op flows (a chain
 * and a wide group) with nothing recording (`off`); with Graflow's Prometheus metrics on
 * (`metrics`); with a tracer provider whose spans cost next to nothing (`trivial`: Graflow's own
 * share of tracing); with an OpenTelemetry SDK (`sdk`: `BasicTracerProvider`, a
 * `BatchSpanProcessor` to an exporter that drops everything); with the SDK and an
 * AsyncLocalStorage context manager (`sdk+context`, what lets task code's spans nest); and with
 * that and metrics. Prints a markdown
 * table of the median time per task (wall time; `--cpu`: CPU time of the process, which the
 * load of other processes disturbs less but the kernel counts in ticks) and the added cost per
 * task. Modes alternate round by round.
 *
 *     deno run -A bench/tracing_overhead.ts [--repeats 7] [--sizes 10000] [--cpu]
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
  type Span,
  trace,
  type Tracer,
  type TracerProvider,
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
const SIZES = option("sizes", "10000").split(",").map(Number);

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

/** A provider whose spans cost next to nothing: what remains is Graflow's own share. */
function trivialProvider(): TracerProvider {
  let n = 0;
  const span = (spanId: string): Span =>
    ({
      spanContext: () => ({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId, traceFlags: 1 }),
      setAttribute() {
        return this;
      },
      setAttributes() {
        return this;
      },
      addEvent() {
        return this;
      },
      setStatus() {
        return this;
      },
      end() {},
      isRecording: () => true,
      recordException() {},
    }) as unknown as Span;
  const tracer = {
    startSpan: () => span((++n).toString(16).padStart(16, "0")),
  } as unknown as Tracer;
  return { getTracer: () => tracer };
}

let provider: BasicTracerProvider | undefined;
function tracingOn(kind: "trivial" | "sdk" | "sdk+context"): void {
  if (kind === "trivial") return void trace.setGlobalTracerProvider(trivialProvider());
  provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(dropAll, { maxQueueSize: 65_536 })],
  });
  trace.setGlobalTracerProvider(provider);
  if (kind === "sdk+context") context.setGlobalContextManager(new AlsContextManager());
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

type Mode = "off" | "metrics" | "trivial" | "sdk" | "sdk+context" | "sdk+context+metrics";
const MODES: Mode[] = ["off", "metrics", "trivial", "sdk", "sdk+context", "sdk+context+metrics"];

async function setMode(mode: Mode): Promise<void> {
  await tracingOff();
  provider = undefined;
  graflowMetrics.disable();
  if (mode.endsWith("metrics")) graflowMetrics.enable();
  if (mode.startsWith("sdk+context")) tracingOn("sdk+context");
  else if (mode === "sdk" || mode === "trivial") tracingOn(mode);
}

const CPU = Deno.args.includes("--cpu");
/** Microseconds now: CPU time of this process (user + system), or wall time. */
function now(): number {
  if (!CPU) return performance.now() * 1000;
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** µs per task of one run. */
async function once(key: string, f: ReturnType<typeof build>): Promise<number> {
  const n = Number(key.split(" ")[1]) + (key.startsWith("group") ? 2 : 0);
  const t0 = now();
  await f.run({ input: 0, maxSteps: 1_000_000 });
  return (now() - t0) / n;
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
  `Per-task cost of observability (median of ${REPEATS} runs, ${
    CPU ? "CPU µs (user + system)" : "µs"
  } per task)\n`,
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
