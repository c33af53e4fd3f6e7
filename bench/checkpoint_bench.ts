// deno-lint-ignore-file no-console
/**
 * Checkpoint write and resume time for channel state of 1 KiB, 1 MiB and 10 MiB.
 *
 *     deno bench -A bench/checkpoint_bench.ts       # Deno's bench runner
 *     deno run -A bench/checkpoint_bench.ts         # a markdown table (median and p95)
 *
 * The channel holds records of about 1 KiB each (1, 1,024 or 10,240 of them). "Write" is
 * `createCheckpoint(run)` of a live run (snapshot of state and channel, JSON, SHA-256, three
 * atomic file writes with fsync, rename and a folder fsync). "Resume" is `resume(path)`: read and
 * verify the three files, rebuild the graph and the channel, run the one pending (trivial) task
 * and finish.
 *
 * @module
 */
import { join } from "node:path";
import { createCheckpoint, flow, MemoryChannel, resume, task, type WorkflowRun } from "../mod.ts";

/** Channel sizes measured. */
export const SIZES = [
  { label: "1 KiB", records: 1 },
  { label: "1 MiB", records: 1024 },
  { label: "10 MiB", records: 10240 },
] as const;

/** Releases the held task of each live run, by run id. */
const releases = new Map<string, () => void>();
const hold = task("bench_cp_hold", async (_: unknown, ctx) => {
  // Only the live run's first execution waits; on resume the task finishes at once.
  if (ctx.runId.startsWith("bench-live") && !releases.has(ctx.runId)) {
    await new Promise<void>((r) => releases.set(ctx.runId, r));
  }
  return "held";
});
const after = task("bench_cp_after", (s: string) => s.length);
const benchFlow = flow`${hold} >> ${after}`;

/** About 1 KiB of JSON. */
function record(i: number) {
  return {
    id: i,
    name: `record-${i}`,
    tags: ["alpha", "beta", "gamma"],
    score: i * 0.5,
    payload: "x".repeat(900),
  };
}

async function filledChannel(records: number): Promise<MemoryChannel> {
  const channel = new MemoryChannel();
  for (let i = 0; i < records; i++) await channel.set(`rec:${i}`, record(i));
  return channel;
}

/** One size's fixture: a live run to checkpoint and a checkpoint to resume. */
export interface Fixture extends AsyncDisposable {
  /** Writes one checkpoint of the live run. */
  write(): Promise<void>;
  /** Resumes the stored checkpoint to the end. */
  resume(): Promise<void>;
  /** Size of the `.channel` file in bytes. */
  channelBytes: number;
  /** Its temp folder. */
  dir: string;
}

/**
 * Prepares a live run with `records` channel records and one checkpoint of it.
 *
 * @param records How many ~1 KiB records.
 * @returns The fixture.
 */
export async function fixture(records: number): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "graflow_cp_bench_" });
  const channel = await filledChannel(records);
  const runId = `bench-live-${records}`;
  const run: WorkflowRun = benchFlow.start({ channel, checkpointDir: dir, runId });
  while (!releases.has(runId)) await new Promise((r) => setTimeout(r, 1));
  const path = join(dir, "resume-me");
  await createCheckpoint(run, { path });
  const channelBytes = (await Deno.stat(path + ".channel")).size;
  const writePath = join(dir, "written");
  return {
    channelBytes,
    async write() {
      await createCheckpoint(run, { path: writePath });
    },
    async resume() {
      const r = await resume(path);
      if (r.output !== 4) throw new Error(`unexpected resume output ${r.output}`);
    },
    dir,
    async [Symbol.asyncDispose]() {
      releases.get(runId)!();
      await run.result;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

if (import.meta.main) {
  const iterations = Number(Deno.args[0] ?? 30);
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)], p95: s[Math.ceil(s.length * 0.95) - 1] };
  };
  const goals: Record<string, number> = { "1 KiB": 5, "1 MiB": 20, "10 MiB": 150 };
  console.log(`Checkpoint write and resume, ${iterations} runs each (after 3 warm-up runs)\n`);
  console.log(
    "| channel state | .channel file | write median | write p95 | resume median | resume p95 | goal (each) |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const { label, records } of SIZES) {
    await using f = await fixture(records);
    const writes: number[] = [];
    const resumes: number[] = [];
    for (let i = 0; i < iterations + 3; i++) {
      let t = performance.now();
      await f.write();
      if (i >= 3) writes.push(performance.now() - t);
      t = performance.now();
      await f.resume();
      if (i >= 3) resumes.push(performance.now() - t);
    }
    const w = stats(writes);
    const r = stats(resumes);
    const ms = (x: number) => `${x.toFixed(2)} ms`;
    const size = f.channelBytes >= 1 << 20
      ? `${(f.channelBytes / (1 << 20)).toFixed(1)} MiB`
      : `${(f.channelBytes / 1024).toFixed(1)} KiB`;
    console.log(
      `| ${label} | ${size} | ${ms(w.median)} | ${ms(w.p95)} | ${ms(r.median)} | ${ms(r.p95)} | < ${
        goals[label]
      } ms |`,
    );
  }
} else {
  const dirs: string[] = [];
  // Bench runs leave the held runs open; remove their folders when the process ends.
  globalThis.addEventListener("unload", () => {
    for (const dir of dirs) Deno.removeSync(dir, { recursive: true });
  });
  for (const { label, records } of SIZES) {
    const ready = fixture(records).then((f) => (dirs.push(f.dir), f));
    Deno.bench({
      name: `checkpoint write, ${label} channel`,
      group: label,
      baseline: true,
      async fn() {
        await (await ready).write();
      },
    });
    Deno.bench({
      name: `resume, ${label} channel`,
      group: label,
      async fn() {
        await (await ready).resume();
      },
    });
  }
}
