// deno-lint-ignore-file no-console
/**
 * A checkpoint at every transition of a state machine. `advance` moves a support ticket
 * OPEN → TRIAGED → IN_PROGRESS → RESOLVED → CLOSED with `ctx.nextIteration`, writing a deferred
 * checkpoint (with the transition as metadata) each time. Then the run is resumed from the
 * checkpoint of every transition: each resume runs only the remaining transitions and reaches the
 * same closed ticket. Run it with:
 *
 *     deno run -A examples/checkpoint_state_machine.ts
 *
 * @module
 */
import { basename } from "node:path";
import { flow, loadCheckpoint, resume, task, type TaskContext } from "../mod.ts";

type State = "OPEN" | "TRIAGED" | "IN_PROGRESS" | "RESOLVED" | "CLOSED";
const NEXT: Record<Exclude<State, "CLOSED">, State> = {
  OPEN: "TRIAGED",
  TRIAGED: "IN_PROGRESS",
  IN_PROGRESS: "RESOLVED",
  RESOLVED: "CLOSED",
};

interface Ticket {
  id: string;
  state: State;
  log: string[];
}

let transitions = 0;

const advance = task("advance", async (t: Ticket, ctx: TaskContext) => {
  if (t.state === "CLOSED") return t;
  transitions++;
  const next: Ticket = {
    ...t,
    state: NEXT[t.state],
    log: [...t.log, `${t.state}->${NEXT[t.state]}`],
  };
  await ctx.channel.increment("transitions");
  await ctx.checkpoint({ metadata: { from: t.state, to: next.state } });
  if (next.state !== "CLOSED") ctx.nextIteration(next);
  return next;
}, { maxCycles: 10 });

const report = task("report", async (t: Ticket, ctx: TaskContext) => {
  const n = await ctx.channel.get<number>("transitions");
  return `ticket ${t.id} ${t.state} after ${n} transitions: ${t.log.join(", ")}`;
});

const lifecycle = flow`${advance} >> ${report}`;
const checkpointDir = await Deno.makeTempDir({ prefix: "graflow_sm_" });
try {
  const result = await lifecycle.run({
    input: { id: "T-42", state: "OPEN", log: [] } satisfies Ticket,
    checkpointDir,
    runId: "ticket-T-42",
  });
  console.log(`Run: ${result.status}: ${result.output}`);
  console.log(`Checkpoints (one per transition): ${result.checkpoints.length}`);
  for (const path of result.checkpoints) {
    const { metadata } = await loadCheckpoint(path);
    const { from, to } = metadata.user as { from: State; to: State };
    transitions = 0;
    const resumed = await resume(path);
    const same = resumed.output === result.output ? "same result" : "DIFFERENT RESULT";
    console.log(
      `  ${
        basename(path)
      }: ${from} -> ${to}; resume ran ${transitions} more transition(s), ${same}`,
    );
  }
} finally {
  await Deno.remove(checkpointDir, { recursive: true });
}
