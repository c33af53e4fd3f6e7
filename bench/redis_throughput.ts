// deno-lint-ignore-file no-console
/**
 * Distributed runs on Redis, measured side by side on one redis-server:
 * - throughput of no-op tasks with 1 and 2 worker processes at concurrency 1, 10 and 100, for
 *   Graflow (`redisBackend` + `workers/main.ts`) and BullMQ (`Queue.addBulk` + `Worker`,
 *   removeOnComplete, completion seen through `QueueEvents`), with Redis commands per task from
 *   `INFO commandstats`;
 * - latency of `fetch >> (a | b) >> merge` through Redis (p50/p99 over sequential runs);
 * - time from a worker's death (SIGKILL) to its task running on another worker;
 * - the cost of signing: Graflow without and with a secret (HMAC-SHA256 of every job, outcome,
 *   call and reply, bound to its run, job or call), interleaved, at the same settings.
 *
 *     deno run -A bench/redis_throughput.ts [--jobs 3000] [--repeats 3] [--latency-runs 1000]
 *       [--only signing]
 *
 * `--only signing` measures the signing cost alone.
 *
 * Each throughput figure is the best and the median of `--repeats` runs, Graflow and BullMQ
 * interleaved; commands per task are averaged over the runs. The
 * producer is this process; workers are separate processes; everything on 127.0.0.1.
 *
 * @module
 */
import process from "node:process";
import { Redis } from "ioredis";
import { Queue, QueueEvents } from "bullmq";
import { flow } from "../mod.ts";
import { redisBackend } from "../src/redis/mod.ts";
import { RedisServer } from "../tests/redis/redis_server.ts";
import { runWorker } from "../src/worker/mod.ts";
import * as B from "./redis_tasks.ts";
import { Signer } from "../src/redis/signing.ts";
import { WIRE_VERSION } from "../src/redis/wire.ts";

function option(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const JOBS = option("jobs", 3000);
const REPEATS = option("repeats", 3);
const LATENCY_RUNS = option("latency-runs", 1000);
const ONLY = Deno.args.includes("--only") ? Deno.args[Deno.args.indexOf("--only") + 1] : undefined;
const SECRET = "bench-secret-0123456789";
const MAIN = new URL("../workers/main.ts", import.meta.url).pathname;
const BULL = new URL("./bullmq_worker.ts", import.meta.url).pathname;

class Proc {
  readonly child: Deno.ChildProcess;
  readonly ready: Promise<void>;
  constructor(args: string[], marker: RegExp) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", ...args],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.child = child;
    this.ready = (async () => {
      let buf = "";
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      while (!marker.test(buf)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`process exited before it was ready: ${buf}`);
        buf += value;
      }
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
    })();
  }
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    try {
      this.child.kill(signal);
    } catch { /* gone */ }
    await this.child.status;
  }
}

/** CPU time (ms) a child process used so far (Linux `/proc`; 0 elsewhere). */
function childCpuMs(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in ticks of 10 ms
  } catch {
    return 0;
  }
}

/** Commands Redis executed per task (`INFO commandstats`: top-level and inside scripts). */
async function commandsPerTask(redis: Redis, jobs: number, label: string): Promise<number> {
  const info = await redis.info("commandstats");
  let calls = 0;
  const parts: string[] = [];
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    if (["info", "config", "client", "ping", "hello", "select"].includes(m[1])) continue;
    calls += +m[2];
    parts.push(`${m[1]} ${(+m[2] / jobs).toFixed(2)}`);
  }
  console.error(`    ${label} commands per task: ${parts.join(", ")}`);
  return calls / jobs;
}

/**
 * Graflow: `jobs` one-task runs at once through the backend, with or without a secret; returns
 * jobs/s and cmds/task.
 */
async function graflowThroughput(
  url: string,
  procs: number,
  concurrency: number,
  jobs: number,
  secret?: string,
) {
  const prefix = `bench-${crypto.randomUUID().slice(0, 6)}`;
  const args = [MAIN, "--redis", url, "--prefix", prefix, "--module", B.TASKS_URL];
  args.push("--concurrency", String(concurrency), ...(secret ? ["--secret", secret] : []));
  const workers = Array.from({ length: procs }, () => new Proc(args, /"type":"started"/));
  await Promise.all(workers.map((w) => w.ready));
  const redis = new Redis(url);
  const backend = redisBackend({ url, prefix, secret });
  const one = flow`${B.noop}`;
  await Promise.all(Array.from({ length: 500 }, () => one.run({ backend }))); // warm-up (JIT)
  await redis.config("RESETSTAT");
  const cpu0 = process.cpuUsage();
  const workerCpu0 = workers.map((w) => childCpuMs(w.child.pid));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: jobs }, () => one.run({ backend })));
  const seconds = (performance.now() - t0) / 1000;
  const producerCpu = process.cpuUsage(cpu0);
  const workerCpu = workers.reduce((t, w, i) => t + childCpuMs(w.child.pid) - workerCpu0[i], 0);
  // CPU per task (producer and workers, µs): steadier than jobs/s on a busy machine.
  const cpuUs = ((producerCpu.user + producerCpu.system) / 1000 + workerCpu) * 1000 / jobs;
  const cmds = await commandsPerTask(redis, jobs, secret ? "graflow (signed)" : "graflow");
  await backend.close();
  await Promise.all(workers.map((w) => w.stop()));
  await redis.flushall();
  redis.disconnect();
  return { rate: jobs / seconds, cmds, cpuUs };
}

/** BullMQ: `jobs` jobs added in bulk; completion through QueueEvents. */
async function bullThroughput(url: string, procs: number, concurrency: number, jobs: number) {
  const name = `bench-${crypto.randomUUID().slice(0, 6)}`;
  const u = new URL(url);
  const connection = { host: u.hostname, port: Number(u.port) };
  const workers = Array.from(
    { length: procs },
    () => new Proc([BULL, url, name, String(concurrency)], /ready/),
  );
  await Promise.all(workers.map((w) => w.ready));
  const redis = new Redis(url);
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  const batch = async (n: number) => {
    let done = 0;
    let finish!: () => void;
    const all = new Promise<void>((r) => finish = r);
    const on = () => {
      if (++done === n) finish();
    };
    events.on("completed", on);
    await queue.addBulk(
      Array.from({ length: n }, (_, i) => ({
        name: "noop",
        data: { i },
        opts: { removeOnComplete: true, removeOnFail: true },
      })),
    );
    // BullMQ trims its events stream (10,000 entries): a busy QueueEvents reader can miss
    // "completed" events, so the queue's own counts (once every job was added) also end the wait.
    const poll = setInterval(async () => {
      const c = await queue.getJobCounts("wait", "active", "delayed", "prioritized");
      if (Object.values(c).every((x) => x === 0)) finish();
    }, 100);
    await all;
    clearInterval(poll);
    events.off("completed", on);
  };
  await batch(500); // warm-up (JIT)
  await redis.config("RESETSTAT");
  const t0 = performance.now();
  await batch(jobs);
  const seconds = (performance.now() - t0) / 1000;
  const cmds = await commandsPerTask(redis, jobs, "bullmq");
  await queue.close();
  await events.close();
  await Promise.all(workers.map((w) => w.stop()));
  await redis.flushall();
  redis.disconnect();
  return { rate: jobs / seconds, cmds };
}

async function latency(url: string, runs: number) {
  const prefix = `bench-${crypto.randomUUID().slice(0, 6)}`;
  const workers = [0, 1].map(() =>
    new Proc(
      [MAIN, "--redis", url, "--prefix", prefix, "--module", B.TASKS_URL],
      /"type":"started"/,
    )
  );
  await Promise.all(workers.map((w) => w.ready));
  const backend = redisBackend({ url, prefix });
  const f = flow`${B.fetch} >> (${B.a} | ${B.b}) >> ${B.merge}`;
  for (let i = 0; i < 50; i++) await f.run({ backend, input: i });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await f.run({ backend, input: i });
    times.push(performance.now() - t0);
    if (r.output !== i + 1 + i * 2) throw new Error("wrong output");
  }
  await backend.close();
  await Promise.all(workers.map((w) => w.stop()));
  times.sort((x, y) => x - y);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { p50: q(0.5), p99: q(0.99), mean: times.reduce((s, t) => s + t, 0) / times.length };
}

async function reclaimDelay(url: string, leaseMs: number, trials: number) {
  const delays: number[] = [];
  for (let i = 0; i < trials; i++) {
    const prefix = `bench-${crypto.randomUUID().slice(0, 6)}`;
    const doomed = new Proc(
      [
        MAIN,
        "--redis",
        url,
        "--prefix",
        prefix,
        "--module",
        B.TASKS_URL,
        "--lease-ms",
        String(leaseMs),
      ],
      /"type":"started"/,
    );
    await doomed.ready;
    const backend = redisBackend({ url, prefix });
    const run = flow`${B.hold}`.run({ backend, input: 300, runId: `reclaim-${i}` });
    const channel = backend.channel(`reclaim-${i}`);
    while (((await channel.get<unknown[]>("starts")) ?? []).length < 1) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const survivor = await runWorker({ url, prefix, leaseMs, blockMs: 200, graceMs: 0 });
    await doomed.stop("SIGKILL");
    const killedAt = Date.now();
    await run;
    const starts = (await channel.get<{ at: number }[]>("starts"))!;
    delays.push(starts[1].at - killedAt);
    await survivor.stop();
    await backend.close();
  }
  return delays;
}

const best = (xs: { rate: number }[]) => Math.max(...xs.map((x) => x.rate));
const median = (xs: { rate: number }[]) => {
  const v = xs.map((x) => x.rate).sort((x, y) => x - y);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/**
 * The signing work of one task measured alone (steady state, in this process): the producer
 * signs the job and checks the outcome, the worker checks the job and signs the outcome.
 */
function signingMicros(): number {
  const signer = new Signer(SECRET, "bench-prefix");
  const job = JSON.stringify({
    v: WIRE_VERSION,
    job: crypto.randomUUID(),
    replyTo: "a1b2c3d4-e5f6",
    runId: crypto.randomUUID(),
    taskId: "bench_noop",
    module: B.TASKS_URL,
    input: { $type: "undefined" },
    attempt: 1,
    cycle: 1,
    retentionMs: 604_800_000,
  });
  const outcome = JSON.stringify({
    job: "x",
    worker: "host-1234-abcdef",
    outcome: { ok: true, value: null },
  });
  const once = () => {
    const s = signer.sign("job", "run", "job", job);
    signer.verify("job", "run", "job", job, s);
    const o = signer.seal("outcome", "run", "job", outcome);
    signer.open("outcome", "run", "job", o);
  };
  for (let i = 0; i < 20_000; i++) once();
  const n = 50_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) once();
  return (performance.now() - t0) * 1000 / n;
}

/** Graflow without and with a secret, interleaved: the cost of signing. */
async function signingCost(url: string): Promise<void> {
  const rows: string[] = [];
  let unsignedCpu = Infinity;
  for (const [procs, concurrency] of [[1, 10], [1, 100], [2, 100]]) {
    const plain: { rate: number; cpuUs: number }[] = [];
    const signed: { rate: number; cpuUs: number }[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const p = await graflowThroughput(url, procs, concurrency, JOBS);
      const s = await graflowThroughput(url, procs, concurrency, JOBS, SECRET);
      plain.push(p);
      signed.push(s);
      console.error(
        `  ${procs}×${concurrency}: unsigned ${p.rate.toFixed(0)}/s ${
          p.cpuUs.toFixed(0)
        } µs CPU, ` +
          `signed ${s.rate.toFixed(0)}/s ${s.cpuUs.toFixed(0)} µs CPU`,
      );
    }
    const cost = (a: number, b: number) => `${((1 - b / a) * 100).toFixed(1)} %`;
    const cpu = (xs: { cpuUs: number }[]) => median(xs.map((x) => ({ rate: x.cpuUs })));
    unsignedCpu = Math.min(unsignedCpu, cpu(plain));
    rows.push(
      `| ${procs} | ${concurrency} | ${best(plain).toFixed(0)} / ${median(plain).toFixed(0)} | ${
        best(signed).toFixed(0)
      } / ${median(signed).toFixed(0)} | ${cost(best(plain), best(signed))} / ${
        cost(median(plain), median(signed))
      } | ${cpu(plain).toFixed(0)} / ${cpu(signed).toFixed(0)} (${
        ((cpu(signed) / cpu(plain) - 1) * 100).toFixed(1)
      } %) |`,
    );
  }
  console.log(
    "| worker processes | concurrency | unsigned jobs/s (best / median) | signed jobs/s (best / median) | throughput cost of signing (best / median) | CPU µs per task, unsigned / signed (median) |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(r);
  const micros = signingMicros();
  console.log(
    `\nSigning work of one task measured alone (sign + check the job, seal + open the outcome): ` +
      `${micros.toFixed(1)} µs, ${(micros / unsignedCpu * 100).toFixed(1)} % of the CPU a task ` +
      `costs unsigned (${unsignedCpu.toFixed(0)} µs, the smallest median above)`,
  );
}

const server = await RedisServer.start();
const url = server.url();
const admin = new Redis(url);
const version = (await admin.info("server")).match(/redis_version:(\S+)/)?.[1];
admin.disconnect();
try {
  console.error(`redis-server ${version} on ${url}; ${JOBS} jobs per figure, ${REPEATS} repeats`);
  if (ONLY === "signing") await signingCost(url);
  else await everything(url);
} finally {
  await server.stop();
}

async function everything(url: string): Promise<void> {
  const rows: string[] = [];
  for (const procs of [1, 2]) {
    for (const concurrency of [1, 10, 100]) {
      const g: { rate: number; cmds: number }[] = [];
      const q: { rate: number; cmds: number }[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const gr = await graflowThroughput(url, procs, concurrency, JOBS);
        const qr = await bullThroughput(url, procs, concurrency, JOBS);
        g.push(gr);
        q.push(qr);
        console.error(
          `  ${procs}×${concurrency}: graflow ${gr.rate.toFixed(0)}/s, bullmq ${
            qr.rate.toFixed(0)
          }/s`,
        );
      }
      const cmds = (xs: { cmds: number }[]) => xs.reduce((t, x) => t + x.cmds, 0) / xs.length;
      rows.push(
        `| ${procs} | ${concurrency} | ${best(g).toFixed(0)} / ${median(g).toFixed(0)} | ${
          best(q).toFixed(0)
        } / ${median(q).toFixed(0)} | ${(best(g) / best(q)).toFixed(2)}× / ${
          (median(g) / median(q)).toFixed(2)
        }× | ${cmds(g).toFixed(1)} | ${cmds(q).toFixed(1)} |`,
      );
    }
  }
  console.log(
    "| worker processes | concurrency | Graflow jobs/s (best / median) | BullMQ jobs/s (best / median) | ratio (best / median) | Graflow Redis cmds/task | BullMQ Redis cmds/task |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(r);
  const l = await latency(url, LATENCY_RUNS);
  console.log(
    `\nLatency of fetch >> (a | b) >> merge through Redis, 2 worker processes, ${LATENCY_RUNS} sequential runs: ` +
      `p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, mean ${l.mean.toFixed(2)} ms`,
  );
  const leaseMs = 2000;
  const d = await reclaimDelay(url, leaseMs, 5);
  console.log(
    `Worker death (SIGKILL) to its task running elsewhere, lease ${leaseMs} ms, 5 trials: ` +
      `${d.map((x) => x + " ms").join(", ")} (max ${Math.max(...d)} ms; goal ≤ ${
        leaseMs + 1000
      } ms)`,
  );
  console.log("\nCost of signing (Graflow without and with a secret, interleaved):");
  await signingCost(url);
}
