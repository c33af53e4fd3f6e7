/**
 * The core behaviour suite with every task in a subprocess of a `ProcessPool` (the pool replaces
 * the `"direct"` handler), so each task runs in `deno run` with its own heap, importing the
 * suite's task module.
 *
 * @module
 */
import { behaviourSuite } from "../engine/behaviour_suite.ts";
import { ProcessPool } from "../../mod.ts";

behaviourSuite("Process pool", () => {
  const pool = new ProcessPool({ size: 2, maxHeapMb: 128 });
  return Promise.resolve({ options: { handlers: { direct: pool } }, close: () => pool.close() });
});
