// deno-lint-ignore-file no-console
/**
 * Periodic checkpoints in a training-like loop: `train` runs one epoch of gradient descent per
 * execution (`ctx.nextIteration`) on a small linear regression and checkpoints every 5 epochs.
 * The weights live in the run's channel, so each checkpoint carries them; `keepCheckpoints: 2`
 * keeps only the newest two on disk. Resuming from the older kept checkpoint finishes the
 * remaining epochs and reaches exactly the same model as the uninterrupted run. Run it with:
 *
 *     deno run -A examples/checkpoint_periodic.ts
 *
 * @module
 */
import { basename } from "node:path";
import { flow, loadCheckpoint, resume, task, type TaskContext } from "../mod.ts";

const EPOCHS = 20;
const EVERY = 5;

/** y = 3x + 2 with a deterministic wobble. */
const DATA = Array.from({ length: 64 }, (_, i) => {
  const x = i / 16;
  return [x, 3 * x + 2 + Math.sin(i) * 0.1] as const;
});

let epochsRun = 0;

const init = task("init", async (_: unknown, ctx: TaskContext) => {
  await ctx.channel.set("weights", { w: 0, b: 0 });
  return { epoch: 0, loss: Infinity };
});

const train = task("train", async (prev: { epoch: number; loss: number }, ctx: TaskContext) => {
  epochsRun++;
  const { w, b } = (await ctx.channel.get<{ w: number; b: number }>("weights"))!;
  let gw = 0, gb = 0, loss = 0;
  for (const [x, y] of DATA) {
    const err = w * x + b - y;
    gw += err * x;
    gb += err;
    loss += err * err;
  }
  const lr = 0.1;
  const next = { w: w - lr * gw / DATA.length, b: b - lr * gb / DATA.length };
  await ctx.channel.set("weights", next);
  const epoch = prev.epoch + 1;
  const state = { epoch, loss: loss / DATA.length };
  await ctx.channel.append("losses", Number(state.loss.toFixed(4)));
  if (epoch % EVERY === 0) {
    await ctx.checkpoint({ metadata: { epoch, loss: state.loss } });
    console.log(`  epoch ${epoch}: loss ${state.loss.toFixed(4)}, checkpoint requested`);
  }
  if (epoch < EPOCHS) ctx.nextIteration(state);
  return state;
}, { maxCycles: EPOCHS });

const evaluate = task("evaluate", async (s: { epoch: number }, ctx: TaskContext) => {
  const { w, b } = (await ctx.channel.get<{ w: number; b: number }>("weights"))!;
  return `after ${s.epoch} epochs: w=${w.toFixed(6)} b=${b.toFixed(6)}`;
});

const training = flow`${init} >> ${train} >> ${evaluate}`;
const checkpointDir = await Deno.makeTempDir({ prefix: "graflow_periodic_" });
try {
  console.log(`Training for ${EPOCHS} epochs, a checkpoint every ${EVERY}, keeping the newest 2:`);
  const result = await training.run({ checkpointDir, runId: "train-1", keepCheckpoints: 2 });
  console.log(`Model ${result.output}`);
  console.log(`Checkpoints written: ${result.checkpoints.map((p) => basename(p)).join(", ")}`);
  const kept: string[] = [];
  for await (const e of Deno.readDir(`${checkpointDir}/train-1`)) {
    if (e.name.endsWith(".meta.json")) kept.push(e.name.replace(".meta.json", ""));
  }
  kept.sort((a, b) => Number(a.split("_")[1]) - Number(b.split("_")[1]));
  console.log(`Kept on disk: ${kept.join(", ")}`);

  const older = `${checkpointDir}/train-1/${kept[0]}`;
  const { metadata } = await loadCheckpoint(older);
  console.log(`Resuming from ${kept[0]} (epoch ${(metadata.user as { epoch: number }).epoch})`);
  epochsRun = 0;
  const resumed = await resume(older);
  console.log(`  ran ${epochsRun} more epochs; model ${resumed.output}`);
  const losses = await resumed.channel.get<number[]>("losses");
  console.log(`  loss history has ${losses?.length} entries, last ${losses?.at(-1)}`);
  console.log(`Same model as the uninterrupted run: ${resumed.output === result.output}`);
} finally {
  await Deno.remove(checkpointDir, { recursive: true });
}
