/**
 * The test kit: test flows offline under `deno test`, with no change to the flow's code.
 *
 * - {@linkcode FakeClock}: drives every timer of a run (retry delays, task timeouts, feedback
 *   timeouts) — pass it as `run({ clock })`.
 *
 * @module
 */
export { FakeClock, type FakeClockOptions } from "./fake_clock.ts";
