/**
 * The core behaviour suite with every task on a Web Worker pool (the pool replaces the
 * `"direct"` handler), so each task runs in a worker that imports the suite's task module.
 *
 * @module
 */
import { behaviourSuite } from "../engine/behaviour_suite.ts";
import { WorkerPool } from "../../mod.ts";

behaviourSuite("Web Worker pool", () => {
  const pool = new WorkerPool({ size: 2 });
  return Promise.resolve({ options: { handlers: { direct: pool } }, close: () => pool.close() });
});
