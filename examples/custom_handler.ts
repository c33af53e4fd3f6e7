// deno-lint-ignore-file no-console
/**
 * Custom task handlers: a rate limiter and a cache, built on the `TaskHandler` interface, and
 * composed with the Web Worker pool.
 *
 * A handler is one method, `execute(task, input, ctx)`, that decides how a task runs. Both
 * handlers here wrap another handler (the in-process `directHandler`, or a `WorkerPool`), so
 * they stack: `cached(pool)` runs cache misses on Web Workers. Run it with:
 *
 *     deno run -A examples/custom_handler.ts
 *
 * Tasks of this module also run inside Web Workers (which import this file to find them by
 * name), so the demo only runs when the file is the main module.
 *
 * @module
 */
import {
  directHandler,
  flow,
  parallel,
  sleep,
  type Task,
  task,
  type TaskContext,
  type TaskHandler,
  WorkerPool,
} from "../mod.ts";

/** Options of {@linkcode rateLimited}. */
export interface RateLimitOptions {
  /** Task starts allowed per second, on average. */
  perSecond: number;
  /** Starts allowed at once before the limit applies. @default {1} */
  burst?: number;
}

/**
 * A token bucket in front of another handler: at most `burst` tasks start at once, then one
 * every `1000 / perSecond` ms. Waiting honours `ctx.signal` (a canceled run stops waiting).
 *
 * @param inner The handler that runs the task.
 * @param options Rate and burst.
 * @returns The handler.
 */
export function rateLimited(inner: TaskHandler, options: RateLimitOptions): TaskHandler {
  const { perSecond, burst = 1 } = options;
  if (!(perSecond > 0)) throw new RangeError(`perSecond must be > 0, got ${perSecond}`);
  const interval = 1000 / perSecond;
  let tokens = burst;
  let last = performance.now();
  let queue = Promise.resolve();

  async function take(signal: AbortSignal): Promise<void> {
    const now = performance.now();
    tokens = Math.min(burst, tokens + (now - last) / interval);
    last = now;
    if (tokens < 1) {
      await sleep((1 - tokens) * interval, signal);
      tokens = 1;
      last = performance.now();
    }
    tokens -= 1;
  }

  return {
    async execute(t: Task, input: unknown, ctx: TaskContext): Promise<unknown> {
      // Callers line up: each waits for the one before it to get its token.
      const turn = queue.then(() => take(ctx.signal));
      queue = turn.catch(() => {});
      await turn;
      return inner.execute(t, input, ctx);
    },
  };
}

/** Options of {@linkcode cached}. */
export interface CacheOptions {
  /** How long a result stays valid. @default {Infinity} */
  ttlMs?: number;
}

/** A caching handler and its counters. */
export interface CachingHandler extends TaskHandler {
  /** Cache hits and misses so far. */
  readonly stats: { hits: number; misses: number };
}

/**
 * Caches results by task name and input (as JSON) in front of another handler. Concurrent calls
 * with the same key share one execution; failures are not cached.
 *
 * @param inner The handler that runs cache misses.
 * @param options Time to live.
 * @returns The handler.
 */
export function cached(inner: TaskHandler, options: CacheOptions = {}): CachingHandler {
  const ttlMs = options.ttlMs ?? Infinity;
  const entries = new Map<string, { value: Promise<unknown>; expires: number }>();
  const stats = { hits: 0, misses: 0 };
  return {
    stats,
    execute(t: Task, input: unknown, ctx: TaskContext): Promise<unknown> {
      const key = `${t.name}\u0000${JSON.stringify(input)}`;
      const hit = entries.get(key);
      if (hit && hit.expires > performance.now()) {
        stats.hits++;
        return hit.value;
      }
      stats.misses++;
      const value = inner.execute(t, input, ctx);
      entries.set(key, { value, expires: performance.now() + ttlMs });
      value.catch(() => entries.delete(key));
      return value;
    },
  };
}

// The tasks ------------------------------------------------------------------------------------

const started: number[] = [];

/** Six calls to a (pretend) API that allows 10 requests per second. */
const lookups = Array.from({ length: 6 }, (_, i) =>
  task(`lookup_${i}`, async (city: string) => {
    started.push(performance.now());
    await new Promise((r) => setTimeout(r, 5));
    return `${city}#${i}`;
  }, { handler: "limited" }));

/** CPU-bound and pure: worth caching, and worth running off the main thread. */
const fib = task("fib", (n: number) => {
  const f = (k: number): number => (k < 2 ? k : f(k - 1) + f(k - 2));
  return { n, value: f(n) };
}, { handler: "cachedWorker" });

const report = task("report", (results: Record<string, string>) => Object.keys(results).length);

if (import.meta.main) {
  await using pool = new WorkerPool({ size: 2 });
  const limited = rateLimited(directHandler, { perSecond: 10, burst: 2 });
  const cachedWorker = cached(pool);
  const handlers = { limited, cachedWorker };

  const t0 = performance.now();
  const calls = await flow`${parallel(lookups)} >> ${report}`.run({ input: "Oslo", handlers });
  const offsets = started.map((t) => Math.round(t - t0));
  console.log(`Rate limit: ${calls.output} lookups, started at ms ${offsets.join(", ")}`);
  const spread = started[started.length - 1] - started[0];
  console.log(`Rate limit: last start ${spread >= 350 ? ">= 350" : "< 350"} ms after the first`);

  for (const round of [1, 2, 3]) {
    const t1 = performance.now();
    const result = await flow`${fib}`.run({ input: 30, handlers });
    const ms = (performance.now() - t1).toFixed(1);
    const { value } = result.output as { value: number };
    console.log(`Cache round ${round}: fib(30) = ${value} in ${ms} ms`);
  }
  console.log(
    `Cache: ${cachedWorker.stats.hits} hits, ${cachedWorker.stats.misses} miss, ` +
      `${pool.stats().started} worker started`,
  );
}
