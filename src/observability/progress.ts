/**
 * Progress of runs for people: {@linkcode RunProgress} (what `run({ onProgress })` receives) and
 * {@linkcode progressReporter}, which shows it as one live line on a terminal, or as plain lines
 * now and then when the output is a file or a pipe.
 *
 * @module
 */

/** How far a run is (what `run({ onProgress })` receives). */
export interface RunProgress {
  /** The run. */
  runId: string;
  /** Its flow's name (`""` when not registered). */
  flow: string;
  /** Task executions that succeeded. */
  done: number;
  /** Task attempts running now (not counting those waiting for feedback). */
  running: number;
  /** Task executions that failed for good (retries exhausted or not allowed). */
  failed: number;
  /** Task executions waiting: for a person's feedback, or for their next retry. */
  waiting: number;
  /** Milliseconds since the run started (the run's clock). */
  elapsedMs: number;
  /** `"running"` until the last report, then how the run ended. */
  status: "running" | "completed" | "terminated" | "waiting" | "failed";
}

/**
 * Elapsed time for people: `4.2s`, `3m05s`, `1h02m`.
 *
 * @param ms Milliseconds.
 * @returns The text.
 */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/**
 * One line for people: `etl: 12 done, 3 running, 0 failed, 1 waiting, 4.2s`.
 *
 * @param p The progress (of one run, or summed with {@linkcode sumProgress}).
 * @param label What the line is about. @default {the flow's name, else the run id}
 * @returns The line.
 */
export function formatProgress(p: RunProgress, label?: string): string {
  const name = label ?? (p.flow || p.runId);
  const end = p.status === "running" ? "" : ` (${p.status})`;
  return `${name}: ${p.done} done, ${p.running} running, ${p.failed} failed, ${p.waiting} waiting, ${
    formatElapsed(p.elapsedMs)
  }${end}`;
}

/**
 * The sum of several runs' progress (elapsed: the longest).
 *
 * @param list The runs' latest progress.
 * @returns The sum, with `status` `"running"`.
 */
export function sumProgress(list: Iterable<RunProgress>): RunProgress {
  const sum: RunProgress = {
    runId: "",
    flow: "",
    done: 0,
    running: 0,
    failed: 0,
    waiting: 0,
    elapsedMs: 0,
    status: "running",
  };
  for (const p of list) {
    sum.done += p.done;
    sum.running += p.running;
    sum.failed += p.failed;
    sum.waiting += p.waiting;
    sum.elapsedMs = Math.max(sum.elapsedMs, p.elapsedMs);
  }
  return sum;
}

/** Options of {@linkcode progressReporter}. */
export interface ProgressReporterOptions {
  /** Writes text. @default {writes to stderr} */
  write?: (text: string) => void;
  /** Whether the output is a terminal (one line, redrawn). @default {Deno.stderr.isTerminal()} */
  isTerminal?: boolean;
  /** Off a terminal: least time between two lines. @default {10000} */
  intervalMs?: number;
  /** Label of the lines. @default {the flow's name, else the run id} */
  label?: string;
}

/** A progress display (see {@linkcode progressReporter}). */
export interface ProgressReporter {
  /** Pass as `run({ onProgress })`. */
  onProgress(progress: RunProgress): void;
}

function stderrWriter(): (text: string) => void {
  const encoder = new TextEncoder();
  return (text) => {
    try {
      const bytes = encoder.encode(text);
      for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
    } catch { /* a closed stderr must not break the run */ }
  };
}

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Shows a run's progress to a person: on a terminal, one line redrawn at each report and ended
 * with a newline when the run ends; elsewhere (a file, a pipe, CI logs) a plain line at most
 * every `intervalMs` (the first after `intervalMs`), and a last line at the end only when an
 * earlier line was written (a run shorter than `intervalMs` writes nothing).
 *
 * @param options Where and how.
 * @returns The reporter.
 *
 * @example A live progress line for a long run
 * ```ts
 * import { flow, progressReporter, task } from "@graflow/graflow";
 * const step = task("doc_progress_step", (n: number) => n + 1);
 * const lines: string[] = [];
 * const reporter = progressReporter({ isTerminal: false, intervalMs: 0, write: (t) => lines.push(t) });
 * await flow`${step}`.run({ input: 1, onProgress: reporter.onProgress });
 * console.log(lines.at(-1)?.includes("1 done")); // true
 * ```
 */
export function progressReporter(options: ProgressReporterOptions = {}): ProgressReporter {
  const write = options.write ?? stderrWriter();
  const terminal = options.isTerminal ?? stderrIsTerminal();
  const interval = options.intervalMs ?? 10_000;
  let last: number | undefined;
  let wrote = false;
  return {
    onProgress(p) {
      const line = formatProgress(p, options.label);
      const final = p.status !== "running";
      if (terminal) {
        write(`\r\x1b[2K${line}${final ? "\n" : ""}`);
        return;
      }
      if (final ? !wrote : p.elapsedMs - (last ?? 0) < interval) return;
      last = p.elapsedMs;
      wrote = true;
      write(line + "\n");
    },
  };
}
