// deno-lint-ignore-file no-console
/**
 * Fault recovery: this program starts itself as a child process that runs a batch job (seven
 * stages, a checkpoint after each), waits until the child reports three checkpoints, and kills
 * it with SIGKILL (no cleanup, no `finally`). Then it finds the newest checkpoint that loads
 * (a kill during a write leaves none that loads half-written) and resumes the run here. Every
 * stage appends a line to a journal file: after the resume the journal holds every stage of the
 * job (a stage that was running when the child died runs again on resume: side effects happen
 * at least once, so make them idempotent), and the result matches an uninterrupted run. Run it
 * with:
 *
 *     deno run -A examples/fault_recovery.ts
 *
 * @module
 */
import { basename, join } from "node:path";
import { flow, loadCheckpoint, resume, task, type TaskContext } from "../mod.ts";

const STAGES = ["download", "unpack", "validate", "index", "thumbnail", "publish", "notify"];

/** Every stage: write a journal line (its side effect), work a while, checkpoint. */
const stages = STAGES.map((name, i) =>
  task(name, async (acc: string[], ctx: TaskContext) => {
    const journal = (await ctx.channel.get<string>("journal"))!;
    await Deno.writeTextFile(journal, `${name} (pid ${Deno.pid})\n`, { append: true });
    const workMs = (await ctx.channel.get<number>("workMs"))!;
    await new Promise((r) => setTimeout(r, workMs));
    await ctx.channel.increment("stages.done");
    await ctx.checkpoint({ metadata: { stage: i + 1, of: STAGES.length } });
    return [...acc, name];
  })
);

const setup = task("setup", async (input: { journal: string; workMs: number }, ctx) => {
  await ctx.channel.set("journal", input.journal);
  await ctx.channel.set("workMs", input.workMs);
  return [] as string[];
});

const job = flow`${setup} >> ${stages[0]} >> ${stages[1]} >> ${stages[2]} >> ${stages[3]} >> ${
  stages[4]
} >> ${stages[5]} >> ${stages[6]}`;

async function newestValidCheckpoint(dir: string): Promise<string> {
  const bases: { base: string; steps: number }[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = e.name.match(/^step_(\d+)\.state\.json$/);
    if (m) bases.push({ base: join(dir, `step_${m[1]}`), steps: Number(m[1]) });
  }
  for (const { base } of bases.sort((a, b) => b.steps - a.steps)) {
    try {
      await loadCheckpoint(base);
      return base;
    } catch (error) {
      console.log(`  skipping ${basename(base)}: ${(error as Error).message}`);
    }
  }
  throw new Error(`No valid checkpoint in ${dir}`);
}

if (Deno.args[0] === "--child") {
  // The child: run the job, report every checkpoint on stdout.
  const [, checkpointDir, journal] = Deno.args;
  await job.run({
    input: { journal, workMs: 150 },
    checkpointDir,
    runId: "batch-7",
    onEvent(e) {
      if (e.type === "checkpoint.written") console.log(`checkpoint ${e.taskId} ${e.path}`);
    },
  });
  console.log("child finished (it should have been killed)");
} else {
  const dir = await Deno.makeTempDir({ prefix: "graflow_fault_" });
  try {
    const journal = join(dir, "journal.log");
    console.log("Starting the job in a child process…");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", new URL(import.meta.url).pathname, "--child", dir, journal],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let seen = 0;
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith("checkpoint ")) continue;
        console.log(`  child: ${line}`.replace(dir, "<dir>"));
        if (++seen === 3) {
          child.kill("SIGKILL");
          console.log("  killed the child with SIGKILL");
        }
      }
    }
    const status = await child.status;
    console.log(`Child ended by signal ${status.signal}`);

    const runDir = join(dir, "batch-7");
    const path = await newestValidCheckpoint(runDir);
    const { metadata, state } = await loadCheckpoint(path);
    console.log(
      `Resuming from ${basename(path)} (stage ${(metadata.user as { stage: number }).stage}, ` +
        `completed: ${state.completed.join(", ")})`,
    );
    const resumed = await resume(path);
    console.log(`Resumed run ${resumed.runId}: ${resumed.status}`);
    console.log(`  output: ${(resumed.output as string[]).join(" > ")}`);
    console.log(`  stages.done in the channel: ${await resumed.channel.get("stages.done")}`);

    const lines = (await Deno.readTextFile(journal)).trim().split("\n");
    const stagesRun = new Set(lines.map((l) => l.split(" ")[0]));
    const pids = new Set(lines.map((l) => l.match(/pid (\d+)/)![1]));
    console.log(`Journal: ${lines.length} lines from ${pids.size} processes`);
    for (const line of lines) console.log(`  ${line}`);

    const reference = await job.run({
      input: { journal: join(dir, "reference.log"), workMs: 0 },
      runId: "reference",
      checkpointDir: join(dir, "reference"),
    });
    const same = JSON.stringify(reference.output) === JSON.stringify(resumed.output);
    const twice = STAGES.filter((s) => lines.filter((l) => l.startsWith(`${s} `)).length > 1);
    console.log(`Every stage ran: ${STAGES.every((s) => stagesRun.has(s))}`);
    console.log(
      `Ran twice (interrupted by the kill, re-run on resume): ${twice.join(", ") || "none"}`,
    );
    console.log(`Same result as an uninterrupted run: ${same}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
