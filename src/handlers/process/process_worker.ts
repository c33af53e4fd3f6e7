/**
 * One subprocess of a `ProcessPool`: starts `deno run` for a spec, writes protocol lines to its
 * stdin, reads frames and log lines from its stdout and stderr, and reports its end once, with
 * its exit status and the last lines it printed.
 *
 * @module
 */
import { WorkflowError } from "../../errors.ts";
import { ContainerOutput, type OutputStream } from "../docker/container_output.ts";
import type { HostLine } from "../docker/protocol.ts";
import type { ProcessSpec } from "./process_spec.ts";

/** Callbacks of a {@linkcode ProcessWorker}. */
export interface ProcessWorkerHooks<J> {
  /** A frame's JSON text arrived on stdout. */
  frame(worker: ProcessWorker<J>, json: string): void;
  /** A line the process printed that is not a frame. */
  log(worker: ProcessWorker<J>, stream: OutputStream, line: string): void;
  /** It sent more than it may (a frame over the size limit); it is being killed. */
  overflow(worker: ProcessWorker<J>, error: Error): void;
  /** It ended (once), with its exit status and the last lines of stderr (or stdout). */
  exited(worker: ProcessWorker<J>, status: Deno.CommandStatus, lastLines: string[]): void;
}

/** @internal A started subprocess and the job it runs. */
export class ProcessWorker<J> {
  /** Pool key: processes with equal keys are interchangeable. */
  readonly key: string;
  /** The job it runs now. */
  job: J | undefined;
  /** Tasks it has run. */
  tasksRun = 0;
  /** Set when the pool killed it on purpose (timeout, ignored abort, breach, close). */
  killedOnPurpose = false;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #ended: Promise<void>;
  #alive = true;
  #writing: Promise<void> = Promise.resolve();

  /**
   * Starts the process.
   *
   * @param spec Arguments and key.
   * @param deno The `deno` executable.
   * @param maxFrameBytes Largest frame accepted.
   * @param hooks Callbacks.
   * @throws {WorkflowError} `PROCESS_START_FAILED` when the process cannot be started.
   */
  constructor(
    spec: ProcessSpec,
    deno: string,
    maxFrameBytes: number,
    hooks: ProcessWorkerHooks<J>,
  ) {
    this.key = spec.key;
    try {
      this.#child = new Deno.Command(deno, {
        args: spec.args,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new WorkflowError(
        `Cannot start a subprocess (${deno}): ${(error as Error)?.message ?? error}`,
        { code: "PROCESS_START_FAILED", cause: error },
      );
    }
    this.#stdin = this.#child.stdin.getWriter();
    const output = new ContainerOutput({
      maxFrameBytes,
      onFrame: (json) => hooks.frame(this, json),
      onLog: (stream, line) => hooks.log(this, stream, line),
    });
    const pump = async (stream: ReadableStream<Uint8Array>, name: OutputStream) => {
      try {
        for await (const chunk of stream) {
          try {
            output.pushStream(name, chunk);
          } catch (error) {
            hooks.overflow(this, error as Error);
            this.kill();
          }
        }
      } catch {
        // the pipe broke: the process is gone
      }
    };
    this.#ended = Promise.all([
      this.#child.status,
      pump(this.#child.stdout, "stdout"),
      pump(this.#child.stderr, "stderr"),
    ]).then(async ([status]) => {
      this.#alive = false;
      await this.#closeStdin();
      try {
        output.end();
      } catch {
        // an unfinished oversized frame at the very end: nothing to deliver
      }
      const err = output.tail("stderr");
      hooks.exited(this, status, err.length ? err : output.tail("stdout"));
    });
  }

  /** False once it exited. */
  get alive(): boolean {
    return this.#alive;
  }

  /** Resolves once it exited and its output was read. */
  get ended(): Promise<void> {
    return this.#ended;
  }

  /**
   * Writes a line to its stdin (ignored once it is gone).
   *
   * @param line The line.
   */
  send(line: HostLine): void {
    if (!this.#alive) return;
    const bytes = new TextEncoder().encode(JSON.stringify(line) + "\n");
    this.#writing = this.#writing.then(() => this.#stdin.write(bytes)).catch(() => {});
  }

  /** Closes its stdin: the runner exits once its task, if any, is done. */
  retire(): void {
    this.#writing = this.#writing.then(() => this.#closeStdin());
  }

  /** Kills it at once (SIGKILL); idempotent. */
  kill(): void {
    if (!this.#alive) return;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }

  async #closeStdin(): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      try {
        await this.#stdin.abort();
      } catch {
        // already closed
      }
    }
  }
}

/**
 * The error for a subprocess that broke the protocol.
 *
 * @param taskId The task.
 * @param why What was wrong.
 * @returns A `WorkflowError` with code `PROCESS_PROTOCOL`.
 */
export function protocolError(taskId: string, why: string): WorkflowError {
  return new WorkflowError(`Cannot read the subprocess of task "${taskId}": ${why}`, {
    code: "PROCESS_PROTOCOL",
  });
}

/**
 * The error of a task whose process ended without sending its outcome: `OUT_OF_MEMORY` when its
 * last output says the heap ran out, else `PROCESS_CRASHED`.
 *
 * @param taskId The task.
 * @param status How the process ended.
 * @param lines Its last output lines.
 * @param maxHeapMb The heap limit, for the message.
 * @returns The error.
 */
export function crashError(
  taskId: string,
  status: Deno.CommandStatus,
  lines: string[],
  maxHeapMb: number,
): WorkflowError {
  const how = status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
  const output = lines.length ? `; last output:\n  ${lines.join("\n  ")}` : "; it printed nothing";
  if (lines.some((l) => /out of memory|heap limit/i.test(l))) {
    return new WorkflowError(
      `Task "${taskId}" ran out of memory in its subprocess (maxHeapMb: ${maxHeapMb}): the ` +
        `process ${how}; other tasks are not affected${output}`,
      { code: "OUT_OF_MEMORY" },
    );
  }
  return new WorkflowError(
    `Task "${taskId}" crashed its subprocess: it ${how} without sending a result${output}`,
    { code: "PROCESS_CRASHED" },
  );
}
