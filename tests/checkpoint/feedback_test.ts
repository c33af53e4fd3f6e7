/**
 * Human in the loop: `ctx.requestFeedback` answered while waiting (memory and file stores),
 * timeouts that end the run as `waiting`, late answers, resume, second answers, two requests
 * from one task, and malformed requests and answers.
 *
 * @module
 */
import assert from "assert";
import { join } from "node:path";
import {
  type FeedbackRequest,
  type FeedbackResponse,
  FileFeedbackStore,
  flow,
  loadCheckpoint,
  MemoryFeedbackStore,
  parallel,
  provideFeedback,
  resume,
  type RunOptions,
  task,
  TaskFailedError,
  type WorkflowError,
  type WorkflowEvent,
} from "../../mod.ts";
import { delay, listDir, readJson, tempDir } from "./helpers.ts";

// Task names are process-global: everything in this file starts with "cph_".
let request: FeedbackRequest = { type: "approval", prompt: "Ship it?", timeoutMs: 10_000 };
let asked = 0;
const ask = task("cph_ask", async (n: number, ctx) => {
  asked++;
  const answer = await ctx.requestFeedback(request);
  return { n, answer };
});
const after = task("cph_after", (r: { n: number; answer: FeedbackResponse }) => ({
  ...r,
  done: true,
}));
const f = flow`${ask} >> ${after}`;

/** Answers every request as soon as it is made. */
function answering(
  answer: Parameters<typeof provideFeedback>[1],
  target: Parameters<typeof provideFeedback>[2],
  seen: string[] = [],
): (e: WorkflowEvent) => void {
  return (e) => {
    if (e.type !== "feedback.requested") return;
    seen.push(e.feedbackId);
    provideFeedback(e.feedbackId, answer, target).catch((error) => seen.push(`failed: ${error}`));
  };
}

function isIso(s: unknown): boolean {
  return typeof s === "string" && new Date(s).toISOString() === s;
}

Deno.test("an approval answered through a MemoryFeedbackStore while the task waits resolves it at once", async () => {
  const store = new MemoryFeedbackStore();
  request = { type: "approval", prompt: "Ship it?", timeoutMs: 10_000 };
  const seen: string[] = [];
  const started = performance.now();
  const result = await f.run({
    input: 1,
    runId: "mem-approval",
    feedbackStore: store,
    onEvent: answering({ approved: true, respondedBy: "ana" }, { store }, seen),
  });
  assert.ok(performance.now() - started < 2_000, "did not wait for the timeout");
  assert.equal(result.status, "completed");
  assert.deepEqual(seen, ["mem-approval.cph_ask.c1.n1"]);
  const { answer } = result.output as { answer: FeedbackResponse };
  assert.equal(answer.approved, true);
  assert.equal(answer.respondedBy, "ana");
  assert.ok(isIso(answer.respondedAt), answer.respondedAt);
  const record = await store.get(seen[0]);
  assert.equal(record?.taskId, "cph_ask");
  assert.equal(record?.runId, "mem-approval");
  assert.deepEqual(record?.request, request);
  assert.deepEqual(record?.response, answer);
});

Deno.test("text and selection requests get their answers", async () => {
  const store = new MemoryFeedbackStore();
  request = { type: "text", prompt: "Release notes?", timeoutMs: 10_000 };
  const text = await f.run({
    input: 2,
    feedbackStore: store,
    onEvent: answering({ text: "Fixes #12", respondedAt: "2024-01-01T00:00:00.000Z" }, { store }),
  });
  assert.deepEqual((text.output as { answer: FeedbackResponse }).answer, {
    text: "Fixes #12",
    respondedAt: "2024-01-01T00:00:00.000Z",
  });
  request = {
    type: "selection",
    prompt: "Which region?",
    options: ["eu", "us"],
    timeoutMs: 10_000,
    metadata: { ticket: 7 },
  };
  const selection = await f.run({
    input: 3,
    feedbackStore: store,
    onEvent: answering({ selected: "us" }, { store }),
  });
  assert.equal((selection.output as { answer: FeedbackResponse }).answer.selected, "us");
});

Deno.test("the default file store under checkpointDir is answered with provideFeedback(id, answer, { checkpointDir })", async () => {
  await using dir = await tempDir();
  request = { type: "approval", prompt: "Deploy?", timeoutMs: 10_000 };
  const seen: string[] = [];
  const result = await f.run({
    input: 4,
    runId: "file-approval",
    checkpointDir: dir.path,
    onEvent: answering({ approved: false }, { checkpointDir: dir.path }, seen),
  });
  assert.equal(result.status, "completed");
  assert.equal((result.output as { answer: FeedbackResponse }).answer.approved, false);
  assert.deepEqual(await listDir(join(dir.path, "feedback")), [
    "file-approval.cph_ask.c1.n1.request.json",
    "file-approval.cph_ask.c1.n1.response.json",
  ]);
  const stored = await readJson(join(dir.path, "feedback", `${seen[0]}.request.json`));
  assert.equal(stored.taskId, "cph_ask");
  assert.deepEqual(stored.request, request);
  assert.deepEqual(result.checkpoints, [], "no checkpoint when the answer came in time");
});

for (const kind of ["file", "memory"] as const) {
  Deno.test(`a timeout ends the run as waiting; a late answer and resume() complete it (${kind} store)`, async () => {
    await using dir = await tempDir();
    const store = kind === "memory" ? new MemoryFeedbackStore() : undefined;
    const target = store ? { store } : { checkpointDir: dir.path };
    const options: RunOptions = {
      checkpointDir: dir.path,
      ...(store ? { feedbackStore: store } : {}),
    };
    request = { type: "approval", prompt: "Approve the refund?", timeoutMs: 80 };
    asked = 0;
    const started = performance.now();
    const waiting = await f.run({ ...options, input: 5, runId: `late-${kind}` });
    assert.ok(performance.now() - started >= 75);
    assert.equal(waiting.status, "waiting");
    const id = `late-${kind}.cph_ask.c1.n1`;
    assert.deepEqual(waiting.feedback, {
      id,
      checkpoint: join(dir.path, `late-${kind}`, "step_0"),
    });
    assert.deepEqual(waiting.checkpoints, [waiting.feedback!.checkpoint]);
    assert.equal(waiting.results.cph_after, undefined, "nothing after the asking task ran");
    const cp = await loadCheckpoint(waiting.feedback!.checkpoint);
    assert.deepEqual(cp.metadata.user, { feedbackId: id });
    assert.deepEqual(cp.state.pending.map((p) => [p.node, p.input]), [["cph_ask", 5]]);

    // The answer comes long after the timeout: accepted.
    await delay(20);
    const record = await provideFeedback(id, { approved: true, respondedBy: "bo" }, target);
    assert.equal(record.response?.approved, true);
    // A second answer is refused.
    await assert.rejects(
      provideFeedback(id, { approved: false }, target),
      (e: WorkflowError) =>
        e.code === "FEEDBACK_ALREADY_ANSWERED" &&
        e.message === `Cannot answer feedback request "${id}": it was already answered`,
    );

    const events: string[] = [];
    asked = 0;
    const resumed = await resume(waiting.feedback!.checkpoint, {
      ...options,
      onEvent: (e) => {
        if (e.type.startsWith("feedback.")) events.push(e.type);
      },
    });
    assert.equal(resumed.status, "completed");
    assert.equal(asked, 1, "the asking task ran again");
    // The same call returned the stored answer without asking (and without waiting) again.
    assert.deepEqual(events, ["feedback.received"]);
    const out = resumed.output as { n: number; answer: FeedbackResponse; done: boolean };
    assert.equal(out.n, 5);
    assert.equal(out.done, true);
    assert.equal(out.answer.approved, true);
    assert.equal(out.answer.respondedBy, "bo");
    // Still refused after the run used it.
    await assert.rejects(provideFeedback(id, { approved: true }, target), /already answered/);
  });
}

Deno.test("a task that asks twice gets two separate requests, each answered on its own", async () => {
  await using dir = await tempDir();
  const twice = task("cph_twice", async (_: unknown, ctx) => {
    const a = await ctx.requestFeedback({ type: "text", prompt: "First?", timeoutMs: 50 });
    const b = await ctx.requestFeedback({
      type: "selection",
      prompt: "Second?",
      options: ["x", "y"],
      timeoutMs: 50,
    });
    return [a.text, b.selected];
  });
  const first = await flow`${twice}`.run({ checkpointDir: dir.path, runId: "twice" });
  assert.equal(first.status, "waiting");
  assert.equal(first.feedback!.id, "twice.cph_twice.c1.n1");
  await provideFeedback(first.feedback!.id, { text: "one" }, { checkpointDir: dir.path });

  const second = await resume(first.feedback!.checkpoint);
  assert.equal(second.status, "waiting", "the second question is a new request");
  assert.equal(second.feedback!.id, "twice.cph_twice.c1.n2");
  // The first answer does not fit (and is not reused for) the second request.
  await assert.rejects(
    provideFeedback(second.feedback!.id, { text: "one" }, { checkpointDir: dir.path }),
    /selected must be one of "x", "y", got undefined/,
  );
  await provideFeedback(second.feedback!.id, { selected: "y" }, { checkpointDir: dir.path });
  const done = await resume(second.feedback!.checkpoint);
  assert.equal(done.status, "completed");
  assert.deepEqual(done.output, ["one", "y"]);
});

Deno.test("a request in a parallel group: the run waits, the sibling re-runs on resume", async () => {
  await using dir = await tempDir();
  const store = new MemoryFeedbackStore();
  let siblingRuns = 0;
  const gate = task("cph_group_gate", async (_: unknown, ctx) => {
    const r = await ctx.requestFeedback({ type: "approval", prompt: "Go?", timeoutMs: 40 });
    return r.approved;
  });
  const sibling = task("cph_group_sibling", async (_: unknown, ctx) => {
    siblingRuns++;
    await delay(ctx.runId === "group-wait" && siblingRuns === 1 ? 200 : 1);
    if (ctx.signal.aborted) throw ctx.signal.reason;
    return "sibling done";
  });
  const waiting = await flow`${parallel([gate, sibling])}`.run({
    checkpointDir: dir.path,
    feedbackStore: store,
    runId: "group-wait",
  });
  assert.equal(waiting.status, "waiting");
  await provideFeedback(waiting.feedback!.id, { approved: true }, { store });
  const done = await resume(waiting.feedback!.checkpoint, { feedbackStore: store });
  assert.equal(done.status, "completed");
  assert.equal(done.results.cph_group_gate, true);
  assert.equal(done.results.cph_group_sibling, "sibling done");
  assert.equal(siblingRuns, 2);
});

Deno.test("malformed feedback requests fail the task with a clear error", async () => {
  const store = new MemoryFeedbackStore();
  const cases: [unknown, RegExp][] = [
    [null, /request must be an object/],
    [
      { type: "vote", prompt: "p", timeoutMs: 1 },
      /type must be "approval", "text" or "selection", got "vote"/,
    ],
    [{ type: "text", prompt: "", timeoutMs: 1 }, /prompt must be a non-empty string/],
    [
      { type: "selection", prompt: "p", timeoutMs: 1 },
      /a selection needs options, a non-empty array of strings/,
    ],
    [{ type: "selection", prompt: "p", options: [1], timeoutMs: 1 }, /a selection needs options/],
    [{ type: "approval", prompt: "p", timeoutMs: 0 }, /timeoutMs must be a positive number, got 0/],
    [{ type: "approval", prompt: "p" }, /timeoutMs must be a positive number, got undefined/],
  ];
  for (const [bad, message] of cases) {
    request = bad as FeedbackRequest;
    const error = await f.run({ input: 0, feedbackStore: store }).catch((e) => e);
    assert.ok(error instanceof TaskFailedError, `${JSON.stringify(bad)}: ${error}`);
    assert.ok(error.cause instanceof TypeError || error.cause instanceof RangeError);
    assert.match(
      String((error.cause as Error).message),
      /^Cannot request feedback in task "cph_ask": /,
    );
    assert.match((error.cause as Error).message, message);
  }
});

Deno.test("malformed answers and unknown ids are refused with clear errors", async () => {
  await using dir = await tempDir();
  const store = new MemoryFeedbackStore();
  const ids: Record<string, string> = {};
  for (
    const [name, r] of Object.entries({
      approval: { type: "approval", prompt: "ok?", timeoutMs: 20 },
      text: { type: "text", prompt: "why?", timeoutMs: 20 },
      selection: { type: "selection", prompt: "which?", options: ["a", "b"], timeoutMs: 20 },
    } as Record<string, FeedbackRequest>)
  ) {
    request = r;
    const waiting = await f.run({ input: 0, runId: `bad-${name}`, checkpointDir: dir.path });
    ids[name] = waiting.feedback!.id;
  }
  const target = { checkpointDir: dir.path };
  await assert.rejects(
    provideFeedback(ids.approval, { approved: "yes" as unknown as boolean }, target),
    (e: Error) =>
      e instanceof TypeError &&
      e.message ===
        `Cannot answer feedback request "${ids.approval}": an approval needs approved: true or false`,
  );
  await assert.rejects(
    provideFeedback(ids.text, { selected: "a" }, target),
    /a text request needs text: string/,
  );
  await assert.rejects(
    provideFeedback(ids.selection, { selected: "c" }, target),
    /selected must be one of "a", "b", got "c"/,
  );
  await assert.rejects(
    provideFeedback(ids.selection, null as unknown as FeedbackResponse, target),
    /the answer must be an object/,
  );
  // Refused answers leave the request open.
  await provideFeedback(ids.selection, { selected: "b" }, target);
  for (const t of [target, { store }]) {
    await assert.rejects(
      provideFeedback("nobody.asked.this", { approved: true }, t),
      (e: WorkflowError) =>
        e.code === "FEEDBACK_NOT_FOUND" &&
        e.message === 'Cannot answer feedback request "nobody.asked.this": no such request',
    );
  }
  await assert.rejects(
    provideFeedback("../../etc/passwd", { approved: true }, target),
    /Cannot use feedback request id "..\/..\/etc\/passwd": it must match/,
  );
});

Deno.test("requestFeedback needs a store or a checkpoint directory; aborting a waiting run rejects it", async () => {
  request = { type: "approval", prompt: "?", timeoutMs: 10_000 };
  const error = await f.run({ input: 0 }).catch((e) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal((error.cause as WorkflowError).code, "FEEDBACK_UNAVAILABLE");
  assert.match(
    (error.cause as Error).message,
    /Cannot request feedback in task "cph_ask": set run\(\{ checkpointDir \}\) or run\(\{ feedbackStore \}\)/,
  );

  const controller = new AbortController();
  const store = new FileFeedbackStore(await Deno.makeTempDir());
  try {
    const run = f.run({
      input: 0,
      feedbackStore: store,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "feedback.requested") controller.abort(new Error("shutting down"));
      },
    });
    await assert.rejects(run, /shutting down/);
  } finally {
    await Deno.remove(store.dir, { recursive: true });
  }
});
