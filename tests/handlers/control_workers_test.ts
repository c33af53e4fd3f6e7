/**
 * The control suite (map, early settling, non-retryable errors) with every task on a Web Worker
 * pool (the pool replaces the `"direct"` handler): items and members run in workers that import
 * the suite's task module; cancelled members are aborted through the pool's abort message.
 *
 * @module
 */
import { controlSuite } from "../engine/control_suite.ts";
import { WorkerPool } from "../../mod.ts";

controlSuite("Web Worker pool", () => {
  const pool = new WorkerPool({ size: 4 });
  return Promise.resolve({ options: { handlers: { direct: pool } }, close: () => pool.close() });
});
