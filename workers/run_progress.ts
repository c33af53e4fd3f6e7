/**
 * Progress of the runs a `graflow` command drives, for the person who started it: on a terminal
 * (stderr), one line redrawn every second with the sum over the runs going on; elsewhere, a JSON
 * log line `{"type":"progress",...}` on stdout every `everyMs` while runs go on. Fed by
 * `run({ onProgress })` of each run.
 *
 * @module
 */
import { formatProgress, type RunProgress, sumProgress } from "../src/observability/progress.ts";
import type { CliIo } from "./cli_command.ts";

/** Options of {@linkcode commandProgress}. */
export interface CommandProgressOptions {
  /** Where lines go. */
  io: CliIo;
  /** Off a terminal: time between two log lines (0: none). */
  everyMs: number;
  /** Whether stderr is a terminal. @default {Deno.stderr.isTerminal()} */
  terminal?: boolean;
  /** Writes to the terminal. @default {writes to stderr} */
  write?: (text: string) => void;
}

/** A progress display for a command (see {@linkcode commandProgress}). */
export interface CommandProgress {
  /** Pass as `run({ onProgress })` of every run. */
  onProgress(p: RunProgress): void;
  /** Stops the display (ends the terminal line). */
  close(): void;
}

function isTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Starts the display.
 *
 * @param o Where and how often.
 * @returns The display.
 */
export function commandProgress(o: CommandProgressOptions): CommandProgress {
  const runs = new Map<string, RunProgress>();
  const finished = { done: 0, failed: 0 };
  const terminal = o.terminal ?? isTerminal();
  const encoder = new TextEncoder();
  const write = o.write ?? ((text: string) => {
    try {
      Deno.stderr.writeSync(encoder.encode(text));
    } catch { /* a closed stderr must not stop the command */ }
  });
  let drawn = false;
  const show = () => {
    if (!runs.size && !drawn) return;
    const sum = sumProgress(runs.values());
    sum.done += finished.done;
    sum.failed += finished.failed;
    if (terminal) {
      write(`\r\x1b[2K${formatProgress(sum, `${runs.size} run(s)`)}`);
      drawn = true;
    } else if (runs.size) {
      o.io.out(JSON.stringify({
        time: new Date().toISOString(),
        type: "progress",
        runs: runs.size,
        done: sum.done,
        running: sum.running,
        failed: sum.failed,
        waiting: sum.waiting,
      }));
    }
  };
  const every = terminal ? 1000 : o.everyMs;
  const timer = every > 0 ? setInterval(show, every) : undefined;
  return {
    onProgress(p) {
      if (p.status === "running") return void runs.set(p.runId, p);
      runs.delete(p.runId);
      finished.done += p.done;
      finished.failed += p.failed;
    },
    close() {
      clearInterval(timer);
      if (terminal && drawn) write("\n");
    },
  };
}
