// deno-lint-ignore-file no-console
/**
 * The program the Docker handler starts in each container (`deno run -A
 * <graflow>/workers/container_runner.ts`, mounted read-only). It reads the task from stdin,
 * imports the task's module, finds the task by name, runs it with `runRemoteTask` and a `ctx`
 * whose calls (`channel`, `result`, immediate checkpoints, feedback) go to the host as frames on
 * stdout and come back as answers on stdin. The outcome is the last frame; then the runner exits.
 * The protocol is described in `src/handlers/docker/protocol.ts`.
 *
 * Exit codes: 0 after writing the outcome (the task's own failure is part of the outcome),
 * 2 when stdin does not start with a task line.
 *
 * @module
 */
import type { ContextCall } from "../src/context/remote_context.ts";
import { runRemoteTask } from "../src/context/remote_task.ts";
import { type ErrorRecord, fromErrorRecord } from "../src/errors.ts";
import {
  type AnswerLine,
  type ContainerFrame,
  FRAME_MARKER,
  type HostLine,
} from "../src/handlers/docker/protocol.ts";

const encoder = new TextEncoder();

/**
 * Writes one frame on stdout, synchronously, so that nothing the task prints lands inside it.
 *
 * @param frame The frame.
 */
export function writeFrame(frame: ContainerFrame): void {
  const bytes = encoder.encode(FRAME_MARKER + JSON.stringify(frame) + "\n");
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

/**
 * The lines of a byte stream (without their `\n`).
 *
 * @param stream The stream.
 * @returns The lines, then done at the end of the stream.
 */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  for await (const chunk of stream) {
    let start = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
      parts.push(chunk.subarray(start, i));
      yield decoder.decode(concat(parts));
      parts = [];
      start = i + 1;
    }
    if (start < chunk.length) parts.push(chunk.slice(start));
  }
  if (parts.length) yield decoder.decode(concat(parts));
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

async function main(): Promise<void> {
  const lines = readLines(Deno.stdin.readable);
  const first = await lines.next();
  let line: HostLine | undefined;
  try {
    line = first.done ? undefined : JSON.parse(first.value) as HostLine;
  } catch {
    // reported below
  }
  if (line?.t !== "task") {
    console.error("graflow container runner: expected a task line on stdin");
    Deno.exit(2);
  }

  const nonce = String(line.nonce);
  const controller = new AbortController();
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  let nextId = 1;
  const call = (c: ContextCall): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (controller.signal.aborted) return reject(controller.signal.reason);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      writeFrame({ t: "call", nonce, id, call: c });
    });

  (async () => {
    for await (const text of lines) {
      if (!text) continue;
      const answer = JSON.parse(text) as AnswerLine;
      if (answer?.t !== "answer") continue;
      const p = pending.get(answer.id);
      if (!p) continue;
      pending.delete(answer.id);
      if (answer.ok) p.resolve(answer.value);
      else p.reject(fromErrorRecord(answer.error as ErrorRecord));
    }
    // The host closed stdin: nobody will answer any more.
    const reason = new Error("Cannot reach the host: stdin closed");
    controller.abort(reason);
    for (const p of pending.values()) p.reject(reason);
    pending.clear();
  })().catch((error) => {
    console.error("graflow container runner: bad line on stdin:", error);
    Deno.exit(2);
  });

  const outcome = await runRemoteTask(line.message, {
    call,
    signal: controller.signal,
    where: "container",
  });
  writeFrame({ t: "outcome", nonce, outcome });
  Deno.exit(0);
}

if (import.meta.main) await main();
