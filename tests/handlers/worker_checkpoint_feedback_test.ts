import assert from "assert";
import {
  flow,
  loadCheckpoint,
  MemoryFeedbackStore,
  parallel,
  provideFeedback,
  resume,
  WorkerPool,
} from "../../mod.ts";
import {
  afterCheckpoint,
  asks,
  checkpointsLater,
  checkpointsNow,
} from "./fixtures/worker_tasks.ts";

Deno.test("ctx.checkpoint() from a worker writes a deferred checkpoint that resumes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "graflow_wcp_" });
  try {
    await using pool = new WorkerPool({ size: 1, name: "cp" });
    const later = parallel([checkpointsLater], { executor: "workers" });
    const result = await flow`${later} >> ${afterCheckpoint}`.run({
      input: 4,
      checkpointDir: dir,
      handlers: { worker: pool },
    });
    assert.equal(result.output, 50);
    assert.equal(result.checkpoints.length, 1);
    const saved = await loadCheckpoint(result.checkpoints[0]);
    assert.deepEqual(saved.metadata.user, { thread: "cp-1" });
    assert.equal(saved.metadata.taskId, "w_checkpoints_later");
    assert.deepEqual(saved.state.completed, ["w_checkpoints_later"]);
    const resumed = await resume(result.checkpoints[0], { handlers: { worker: pool } });
    assert.equal(resumed.output, 50);
    assert.deepEqual(resumed.completed, ["w_checkpoints_later", "w_after_checkpoint"]);
    assert.equal(await resumed.channel.get("before_checkpoint"), 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ctx.checkpoint({ deferred: false }) from a worker writes now and returns the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "graflow_wcp_" });
  try {
    await using pool = new WorkerPool({ size: 1, name: "now" });
    const now = parallel([checkpointsNow], { executor: "workers" });
    const result = await flow`${now}`.run({ checkpointDir: dir, handlers: { worker: pool } });
    const path = result.results.w_checkpoints_now as string;
    assert.equal(typeof path, "string");
    assert.deepEqual(result.checkpoints, [path]);
    const saved = await loadCheckpoint(path);
    assert.deepEqual(saved.metadata.user, { thread: "now-1" });
    // Written while the task ran: it is pending (runs again on resume).
    assert.deepEqual(saved.state.completed, []);
    assert.deepEqual(saved.state.pending.map((p) => p.node), ["w_checkpoints_now"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ctx.requestFeedback from a worker waits for the answer given on the host", async () => {
  await using pool = new WorkerPool({ size: 1, name: "fb" });
  const store = new MemoryFeedbackStore();
  const answered: Promise<unknown>[] = [];
  const result = await flow`${parallel([asks], { executor: "workers" })}`.run({
    handlers: { worker: pool },
    feedbackStore: store,
    onEvent: (e) => {
      if (e.type !== "feedback.requested") return;
      answered.push(
        provideFeedback(e.feedbackId, { approved: true, respondedBy: "ana" }, { store }),
      );
    },
  });
  await Promise.all(answered);
  assert.equal(answered.length, 1);
  assert.equal(result.status, "completed");
  assert.deepEqual(result.results.w_asks, { approved: true, by: "ana", thread: "fb-1" });
});
