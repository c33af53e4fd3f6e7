// deno-lint-ignore-file no-console
/**
 * Checkpoints in a nutshell: `transform` calls `ctx.checkpoint()`, so after it succeeds the run
 * writes three files (`.state.json`, `.meta.json`, `.channel`) under
 * `<checkpointDir>/<runId>/step_<steps>`. `loadCheckpoint` inspects them without running
 * anything, and `resume` continues from them: only the pending `load` task runs again, and the
 * result is the same as the uninterrupted run's. Run it with:
 *
 *     deno run -A examples/checkpoint_basic.ts
 *
 * @module
 */
import { basename } from "node:path";
import { flow, loadCheckpoint, resume, task, type TaskContext } from "../mod.ts";

const ran: string[] = [];

const extract = task("extract", async (_: unknown, ctx: TaskContext) => {
  ran.push("extract");
  const rows = [{ sku: "A-1", qty: 3 }, { sku: "B-2", qty: 0 }, { sku: "C-3", qty: 5 }];
  await ctx.channel.set("source", "inventory.csv");
  return rows;
});

const transform = task(
  "transform",
  async (rows: { sku: string; qty: number }[], ctx: TaskContext) => {
    ran.push("transform");
    const inStock = rows.filter((r) => r.qty > 0);
    await ctx.channel.increment("rows.dropped", rows.length - inStock.length);
    // Deferred (the default): written once this task has succeeded and `load` is queued.
    await ctx.checkpoint({ metadata: { stage: "transformed", rows: inStock.length } });
    return inStock;
  },
);

const load = task("load", async (rows: { sku: string; qty: number }[], ctx: TaskContext) => {
  ran.push("load");
  const source = await ctx.channel.get<string>("source");
  return `${rows.length} rows from ${source} loaded (${rows.map((r) => r.sku).join(", ")})`;
});

const pipeline = flow`${extract} >> ${transform} >> ${load}`;
const checkpointDir = await Deno.makeTempDir({ prefix: "graflow_basic_" });
try {
  const result = await pipeline.run({ checkpointDir, runId: "basic-demo" });
  console.log(`Run ${result.runId}: ${result.status}, output: ${result.output}`);
  const [path] = result.checkpoints;
  const files: string[] = [];
  for await (const e of Deno.readDir(`${checkpointDir}/basic-demo`)) files.push(e.name);
  console.log(`Checkpoint written: ${basename(path)} (files: ${files.sort().join(", ")})`);

  const { metadata, state, tasks } = await loadCheckpoint(path);
  console.log(`  run ${metadata.runId}, step ${metadata.steps}, by task ${metadata.taskId}`);
  console.log(`  created at ${metadata.createdAt}`);
  console.log(`  user metadata: ${JSON.stringify(metadata.user)}`);
  console.log(`  completed: ${state.completed.join(", ")}`);
  console.log(`  pending: ${state.pending.map((p) => p.node).join(", ")}`);
  console.log(`  tasks: ${tasks.map((t) => `${t.id} (${basename(t.module ?? "?")})`).join(", ")}`);
  console.log(`  state checksum sha256: ${metadata.checksum.state.slice(0, 16)}…`);

  ran.length = 0;
  const resumed = await resume(path);
  console.log(`Resumed ${resumed.runId}: ${resumed.status}, output: ${resumed.output}`);
  console.log(`  tasks run by the resume: ${ran.join(", ")}`);
  console.log(
    `  rows.dropped restored from the channel: ${await resumed.channel.get("rows.dropped")}`,
  );
  console.log(`Same result as the uninterrupted run: ${resumed.output === result.output}`);
} finally {
  await Deno.remove(checkpointDir, { recursive: true });
}
