/**
 * `runOrchestrator()`: continues the recorded runs nobody drives — queued runs, runs whose
 * owner's lease expired (the owner died), failed runs marked for retry, runs whose feedback
 * request was answered — from their journals. Two orchestrators never drive one run: taking a
 * run increments its fencing token, and the store refuses the writes of a stale owner. It is
 * also the watchdog: with one orchestrator running, no run stays `running` without a live owner
 * for longer than its lease plus `intervalMs`.
 *
 * @module
 */
import { getFlow } from "../dsl/flow_registry.ts";
import { type ContinueOptions, continueRun } from "../run/continue_run.ts";
import { DEFAULT_LEASE_MS, OWNER, type WorkflowRun } from "../run/workflow_run.ts";
import type { RunStore } from "../store/run_store.ts";
import { moduleUrl } from "./worker_options.ts";

/** Something an orchestrator did (for logs). */
export type OrchestratorEvent =
  | { type: "started"; owner: string }
  | { type: "continued"; runId: string; reason: string; fence: number }
  | { type: "finished"; runId: string; status: string }
  | { type: "refused"; runId: string; error: string }
  | { type: "error"; error: string }
  | { type: "stopped"; owner: string };

/** Options of {@linkcode runOrchestrator}. */
export interface OrchestratorOptions extends ContinueOptions {
  /** The store whose runs it continues. */
  store: RunStore;
  /** Modules to import first: the ones that register the flows and define the tasks. */
  modules?: string[];
  /** Its owner name in leases. @default {"<host>:<pid>:<random>:orchestrator-<n>"} */
  owner?: string;
  /** How often it looks for runs to continue (the takeover interval). @default {1000} */
  intervalMs?: number;
  /** Lease of the runs it drives. @default {10000} */
  leaseMs?: number;
  /** Runs driven at once. @default {100} */
  concurrency?: number;
  /** Aborting it stops the orchestrator (runs it drives are aborted and continue elsewhere). */
  signal?: AbortSignal;
  /** Receives what it does. */
  onOrchestratorEvent?: (event: OrchestratorEvent) => void;
}

let instances = 0;

/** A running orchestrator (see {@linkcode runOrchestrator}). */
export class Orchestrator implements AsyncDisposable {
  /** Its owner name. */
  readonly owner: string;
  /** Settles once it stopped. */
  readonly finished: Promise<void>;
  readonly #o: OrchestratorOptions;
  readonly #runs = new Map<string, WorkflowRun>();
  readonly #stop = new AbortController();
  #wake: (() => void) | undefined;

  /** @internal Use {@linkcode runOrchestrator}. */
  constructor(options: OrchestratorOptions) {
    this.#o = options;
    this.owner = options.owner ?? `${OWNER}:orchestrator-${++instances}`;
    options.signal?.addEventListener("abort", () => this.stop(), { once: true });
    this.finished = this.#loop();
  }

  /** Runs it drives now. */
  get running(): number {
    return this.#runs.size;
  }

  #emit(e: OrchestratorEvent): void {
    try {
      this.#o.onOrchestratorEvent?.(e);
    } catch { /* listeners must not break the loop */ }
  }

  async #loop(): Promise<void> {
    this.#emit({ type: "started", owner: this.owner });
    const watching = this.#watch();
    const interval = this.#o.intervalMs ?? 1000;
    while (!this.#stop.signal.aborted) {
      try {
        await this.#tick();
      } catch (error) {
        this.#emit({ type: "error", error: String((error as Error)?.message ?? error) });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, interval);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
        this.#stop.signal.addEventListener("abort", done, { once: true });
      });
    }
    await watching;
    for (const run of this.#runs.values()) run.abort(new Error("the orchestrator stopped"));
    await Promise.all([...this.#runs.values()].map((r) => r.result.catch(() => {})));
    this.#emit({ type: "stopped", owner: this.owner });
  }

  /** Wakes the loop when a run becomes claimable (queued, retry, answered). */
  async #watch(): Promise<void> {
    try {
      for await (const e of this.#o.store.watch({ signal: this.#stop.signal })) {
        if (e.type !== "run") continue;
        const r = e.record;
        if (r.status === "queued" || r.retryRequested || r.status === "waiting") this.#wake?.();
      }
    } catch { /* the loop's interval still finds them */ }
  }

  async #tick(): Promise<void> {
    const { store } = this.#o;
    const room = (this.#o.concurrency ?? 100) - this.#runs.size;
    if (room <= 0) return;
    const found = (await store.claimable(room)).filter((c) => !this.#runs.has(c.runId));
    // Each run is taken on its own: one slow continuation does not delay the others.
    await Promise.all(found.map((c) => this.#take(c.runId, c.reason)));
  }

  async #take(runId: string, reason: string): Promise<void> {
    const { store } = this.#o;
    if (this.#stop.signal.aborted || this.#runs.has(runId)) return;
    const lease = await store.acquire(runId, this.owner, this.#o.leaseMs ?? DEFAULT_LEASE_MS);
    if (!lease) return; // another orchestrator was faster
    const record = await store.get(runId);
    if (!record) return;
    const {
      store: _s,
      modules: _m,
      owner: _o,
      intervalMs: _i,
      concurrency: _c,
      signal: _g,
      onOrchestratorEvent: _e,
      ...runOptions
    } = this.#o;
    const run = await continueRun(store, record, lease, getFlow(record.flow), runOptions);
    if (!run) {
      const refused = await store.get(runId);
      this.#emit({ type: "refused", runId, error: refused?.error?.message ?? "" });
      return;
    }
    this.#emit({ type: "continued", runId, reason, fence: lease.fence });
    this.#runs.set(runId, run);
    run.result.then(
      (r) => this.#emit({ type: "finished", runId, status: r.status }),
      (e) => this.#emit({ type: "finished", runId, status: `failed: ${e?.message ?? e}` }),
    ).finally(() => {
      this.#runs.delete(runId);
      this.#wake?.();
    });
  }

  /**
   * Stops looking for runs; the runs it drives are aborted (another orchestrator continues them
   * once their lease expires).
   *
   * @returns When it stopped.
   */
  stop(): Promise<void> {
    this.#stop.abort();
    return this.finished;
  }

  /** Same as {@linkcode Orchestrator.stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Starts an orchestrator: imports `modules` (which register flows and define tasks), then
 * continues every run of the store that nobody drives, until stopped.
 *
 * @param options The store, modules, timings, and how tasks run (handlers, backend, …).
 * @returns The running orchestrator.
 * @throws {Error} When a module cannot be imported.
 *
 * @example An orchestrator next to a store
 * ```ts ignore
 * import { localRunStore } from "@graflow/graflow";
 * import { runOrchestrator } from "@graflow/graflow/worker";
 * await using store = localRunStore({ dir: ".graflow" });
 * await using orchestrator = await runOrchestrator({ store, modules: ["./flows.ts"] });
 * ```
 */
export async function runOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  if (!options?.store) throw new TypeError("Cannot start orchestrator: store is required");
  for (const m of options.modules ?? []) {
    const url = moduleUrl(m);
    try {
      await import(url);
    } catch (error) {
      throw new Error(
        `Cannot start orchestrator: importing module ${url} failed: ${(error as Error)?.message}`,
        { cause: error },
      );
    }
  }
  return new Orchestrator(options);
}
