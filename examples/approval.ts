// deno-lint-ignore-file no-console
/**
 * Human in the loop: a release pipeline asks for approval before deploying. Nobody answers
 * within `timeoutMs`, so the run checkpoints and resolves with `status: "waiting"` (no process
 * has to stay up while a person decides). Later someone approves with `provideFeedback` (any
 * process that can see the checkpoint directory can), and `resume` continues the run: the same
 * `requestFeedback` call now returns the stored answer at once. A second answer is refused.
 * Run it with:
 *
 *     deno run -A examples/approval.ts
 *
 * @module
 */
import { basename } from "node:path";
import {
  flow,
  provideFeedback,
  resume,
  task,
  type TaskContext,
  type WorkflowError,
} from "../mod.ts";

let approvalAsked = 0;

const build = task("build", (version: string) => ({ version, artifact: `app-${version}.tar.gz` }));

const approve = task(
  "approve",
  async (b: { version: string; artifact: string }, ctx: TaskContext) => {
    approvalAsked++;
    const answer = await ctx.requestFeedback({
      type: "approval",
      prompt: `Deploy ${b.artifact} to production?`,
      timeoutMs: 300,
      metadata: { version: b.version },
    });
    if (!answer.approved) ctx.cancel(`deployment of ${b.version} was rejected`);
    return { ...b, approvedBy: answer.respondedBy ?? "unknown" };
  },
);

const deploy = task("deploy", (b: { version: string; approvedBy: string }) => {
  return `deployed ${b.version} (approved by ${b.approvedBy})`;
});

const release = flow`${build} >> ${approve} >> ${deploy}`;
const checkpointDir = await Deno.makeTempDir({ prefix: "graflow_approval_" });
try {
  const first = await release.run({
    input: "2.4.0",
    checkpointDir,
    runId: "release-2.4.0",
    onEvent(e) {
      if (e.type === "feedback.requested") console.log(`Asked for approval: ${e.feedbackId}`);
    },
  });
  console.log(`Run ${first.runId}: ${first.status}`);
  const { id, checkpoint } = first.feedback!;
  console.log(`  waiting for feedback ${id}`);
  console.log(`  checkpoint ${basename(checkpoint)}`);

  // Hours later, in another process perhaps: the release manager approves.
  const record = await provideFeedback(id, { approved: true, respondedBy: "release-manager" }, {
    checkpointDir,
  });
  console.log(`Answered: approved=${record.response!.approved} by ${record.response!.respondedBy}`);
  try {
    await provideFeedback(id, { approved: false }, { checkpointDir });
  } catch (error) {
    console.log(`Second answer refused: ${(error as WorkflowError).code}`);
  }

  const started = performance.now();
  const done = await resume(checkpoint, { checkpointDir });
  const ms = performance.now() - started;
  console.log(`Resumed: ${done.status}: ${done.output}`);
  console.log(`  approve ran ${approvalAsked} times; the resume did not wait (${ms < 300})`);
} finally {
  await Deno.remove(checkpointDir, { recursive: true });
}
