/**
 * The error of a container that ended without a result.
 *
 * @module
 */
import { registerErrorClass, WorkflowError } from "../../errors.ts";

/** Details of a {@linkcode ContainerExitError}. */
export interface ContainerExitDetails {
  /** The task. */
  taskId: string;
  /** The container's exit code (137 = killed by SIGKILL, e.g. out of memory). */
  exitCode: number;
  /** Whether the engine reports an out-of-memory kill. */
  oomKilled: boolean;
  /** The memory limit in bytes, if any (explains a 137). */
  memory?: number;
  /** The last lines of the container's stderr (or of its stdout when stderr was empty). */
  output: string[];
}

/**
 * A task's container exited without sending a result: a non-zero exit, a kill (e.g. out of
 * memory: exit code 137), or the task ended the process itself. Code `"CONTAINER_FAILED"`; the
 * engine wraps it in a `TaskFailedError`.
 *
 * @example Inspecting a failed container run
 * ```ts
 * import { ContainerExitError } from "@graflow/graflow/docker";
 * const error = new ContainerExitError({ taskId: "t", exitCode: 3, oomKilled: false, output: ["boom"] });
 * if (error.exitCode !== 3 || error.code !== "CONTAINER_FAILED") throw new Error("unexpected");
 * ```
 */
export class ContainerExitError extends WorkflowError {
  /** The task. */
  readonly taskId: string;
  /** The container's exit code. */
  readonly exitCode: number;
  /** Whether the engine reports an out-of-memory kill. */
  readonly oomKilled: boolean;
  /** The last lines of the container's stderr (or stdout). */
  readonly output: string[];

  /**
   * Creates the instance.
   *
   * @param details Exit code, OOM flag, memory limit and last output lines.
   */
  constructor(details: ContainerExitDetails) {
    const { taskId, exitCode, oomKilled, memory, output } = details;
    let why = `exited with code ${exitCode}`;
    if (oomKilled) why += " (killed: out of memory)";
    else if (exitCode === 137) {
      why += " (killed by SIGKILL" +
        (memory ? `; out of memory? its limit is ${(memory / 2 ** 20).toFixed(0)} MiB)` : ")");
    }
    super(
      `Cannot run task "${taskId}" in a container: it ${why} without sending a result` +
        (output.length ? `; last output:\n  ${output.join("\n  ")}` : "; it printed nothing"),
      { code: "CONTAINER_FAILED" },
    );
    this.name = "ContainerExitError";
    this.taskId = taskId;
    this.exitCode = exitCode;
    this.oomKilled = oomKilled;
    this.output = output;
  }
}

registerErrorClass(ContainerExitError);
