/**
 * The test kit: test flows offline under `deno test`, with no change to the flow's code.
 *
 * - {@linkcode TaskMocks}: replace tasks by name for one run (`run({ taskHandlers })`); mocks
 *   run in-process whatever the task's handler, and their calls are recorded.
 * - {@linkcode FakeClock}: drives every timer of a run (retry delays, task timeouts, feedback
 *   timeouts) — pass it as `run({ clock })`.
 * - {@linkcode crashAfter} and {@linkcode resumeAfterCrash}: the run stops as if its process
 *   died right after a chosen task's outcome was recorded; continue it from what it recorded.
 * - {@linkcode RunRecorder}: the path a run took (tasks, attempts, executions, map items,
 *   cancellations) with assertions.
 *
 * @example All together
 * ```ts
 * import { flow, map, SimulatedCrash, task } from "@graflow/graflow";
 * import {
 *   crashAfter,
 *   FakeClock,
 *   resumeAfterCrash,
 *   RunRecorder,
 *   TaskMocks,
 * } from "@graflow/graflow/testing";
 * const list = task("doc_kit_list", () => fetch("https://example.com/ids").then((r) => r.json()));
 * const score = task("doc_kit_score", (id: number) => id * 10, { retries: 2 });
 * const total = task("doc_kit_total", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
 * const f = flow`${list} >> ${map(score, { concurrency: 2 })} >> ${total}`;
 *
 * const mocks = new TaskMocks({ doc_kit_list: [1, 2, 3, 4] });
 * const clock = new FakeClock({ autoAdvance: true });
 * const crash = await f.run({
 *   taskHandlers: mocks.handlers,
 *   clock,
 *   crashAfter: crashAfter("doc_kit_score", { times: 2 }), // after two of the four items
 * }).catch((e) => e);
 * if (!(crash instanceof SimulatedCrash)) throw new Error("unexpected");
 *
 * const rec = new RunRecorder();
 * const result = await resumeAfterCrash(f, crash, {
 *   taskHandlers: mocks.handlers,
 *   clock,
 *   onEvent: rec.onEvent,
 * });
 * if (result.output !== 100) throw new Error("unexpected");
 * if (rec.items().doc_kit_score !== 2) throw new Error("only the two items left ran again");
 * rec.assertPath(["doc_kit_score", "doc_kit_total"]);
 * ```
 *
 * @module
 */
export { FakeClock, type FakeClockOptions } from "./fake_clock.ts";
export { type MockBehaviour, type MockCall, TaskMocks } from "./task_mocks.ts";
export { PathAssertionError, RunRecorder } from "./run_recorder.ts";
export { crashAfter, type CrashAfterOptions, resumeAfterCrash } from "./crash.ts";
export { type CrashPoint, SimulatedCrash } from "../engine/simulated_crash.ts";
