/**
 * The program each subprocess of the `ProcessPool` (`src/handlers/process/process_pool.ts`)
 * runs. The pool starts `deno run` with a `data:` main module that imports this module first,
 * the task's module second, then calls {@linkcode serveProcess}.
 *
 * It speaks the container runner's protocol (`src/handlers/docker/protocol.ts`) over its stdin
 * and stdout, for several tasks one after another: it reads a task line, runs the task with
 * `runRemoteTask` (which finds it by name in the module the host named) and a `ctx` whose calls
 * go to the host as frames, aborts the task's signal when the host asks, and writes the outcome
 * as the last frame of that task. Every frame echoes the task's nonce. It ends when the host
 * closes its stdin.
 *
 * It keeps its own references to stdin, stdout and `JSON`, taken before any task code runs.
 * What escapes a task (an unhandled rejection, `Deno.exit()`) ends the process, and the host
 * fails that task with `PROCESS_CRASHED`; a task that exhausts the heap limit ends it too
 * (`OUT_OF_MEMORY`).
 *
 * @module
 */
import type { ContextCall } from "../src/context/remote_context.ts";
import { runRemoteTask } from "../src/context/remote_task.ts";
import { fromErrorRecord } from "../src/errors.ts";
import {
  type ContainerFrame,
  FRAME_MARKER,
  type HostLine,
} from "../src/handlers/docker/protocol.ts";
import { readLines } from "./container_runner.ts";

// Own references, taken when this module is evaluated: before the task's module.
const encoder = new TextEncoder();
const stdout = Deno.stdout;
const writeSync = stdout.writeSync.bind(stdout);
const stdin = Deno.stdin.readable;
const stringify = JSON.stringify;
const parse = JSON.parse;
const exit = Deno.exit.bind(Deno);

function writeFrame(frame: ContainerFrame): void {
  const bytes = encoder.encode(FRAME_MARKER + stringify(frame) + "\n");
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(bytes.subarray(offset));
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The task being run. */
interface Current {
  readonly nonce: string;
  readonly controller: AbortController;
  readonly pending: Map<number, Pending>;
}

function settle(task: Current, reason: Error): void {
  for (const p of task.pending.values()) p.reject(reason);
  task.pending.clear();
}

/**
 * Serves the host on stdin and stdout until it closes stdin, then exits the process.
 *
 * @returns Never resolves: the process exits.
 */
export async function serveProcess(): Promise<void> {
  let current: Current | undefined;
  let nextCall = 1;
  for await (const text of readLines(stdin)) {
    let line: HostLine;
    try {
      line = parse(text);
    } catch {
      continue;
    }
    if (line?.t === "task") {
      if (current) continue; // the host sends one task at a time
      const task: Current = current = {
        nonce: String(line.nonce),
        controller: new AbortController(),
        pending: new Map(),
      };
      const call = (c: ContextCall): Promise<unknown> =>
        new Promise((resolve, reject) => {
          if (current !== task) {
            return reject(new Error("Cannot call the host: the task is no longer running"));
          }
          const id = nextCall++;
          task.pending.set(id, { resolve, reject });
          writeFrame({ t: "call", nonce: task.nonce, id, call: c });
        });
      const options = { call, signal: task.controller.signal, where: "process" };
      runRemoteTask(line.message, options).then((outcome) => {
        current = undefined;
        settle(task, new Error("Cannot call the host: the task is no longer running"));
        writeFrame({ t: "outcome", nonce: task.nonce, outcome });
      });
    } else if (line?.t === "answer") {
      const p = current?.pending.get(line.id);
      if (!p) continue;
      current!.pending.delete(line.id);
      if (line.ok) p.resolve(line.value);
      else p.reject(fromErrorRecord(line.error));
    } else if (line?.t === "abort" && current && line.nonce === current.nonce) {
      current.controller.abort(fromErrorRecord(line.reason));
    }
  }
  // The host closed stdin: it wants nothing more from this process.
  if (current) settle(current, new Error("Cannot reach the host: stdin closed"));
  exit(0);
}
