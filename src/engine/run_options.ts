/**
 * Options and results of a run: the options as callers give them ({@linkcode RunOptions}),
 * and as the engine takes them once checked ({@linkcode EngineSetup}).
 *
 * @module
 */
import type { Channel } from "../channels/channel.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { EventListener } from "../observability/events.ts";
import type { GroupExecutor } from "../graph/graph.ts";
import type { ExecutedGraph } from "../graph/executed_graph.ts";
import type { FeedbackStore } from "../checkpoint/feedback_store.ts";
import type { Clock } from "../time/clock.ts";
import type { RunStore } from "../store/run_store.ts";
import type { CrashPoint } from "./simulated_crash.ts";
import type { Graph } from "../graph/graph.ts";
import type { Plan } from "../graph/plan.ts";
import type { RunStateData, Transition } from "../state/run_state_data.ts";
import type { WorkflowEvent } from "../observability/events.ts";
import type { RunObserver } from "../observability/instrumentation.ts";
import type { PlacementOptions } from "./placement.ts";
import type { EnginePort, RunPersistence } from "./persistence.ts";
import type { RunProgress } from "../observability/progress.ts";

/**
 * Where tasks run when a run has a backend (e.g. `redisBackend(...)` from
 * `@graflow/graflow/redis`): a handler for its tasks and, optionally, the run's channel.
 */
export interface Backend {
  /** Backend name, e.g. `"redis"`. */
  readonly name: string;
  /**
   * Runs the run's tasks that name no handler (and groups whose `executor` is the backend's
   * name); registered under the backend's `name`.
   */
  readonly handler: TaskHandler;
  /** The run's channel, when the run options give none. */
  channel?(runId: string): Channel | Promise<Channel>;
  /** The feedback store for human-in-the-loop requests of runs on this backend. */
  feedbackStore?(): FeedbackStore;
  /** Called once when a run that used this backend finished. */
  runFinished?(runId: string): Promise<void>;
}

/** Options of `flow.run()`. */
export interface RunOptions {
  /** Input of the first task(s). */
  input?: unknown;
  /** Node(s) to start at. @default {the nodes without predecessors} */
  start?: string | string[];
  /**
   * Hard limit of task executions (map items count in `RunResult.steps` but not against this
   * limit: a map's input bounds them). @default {10000}
   */
  maxSteps?: number;
  /** Aborting it cancels the run and every running task; the run rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** The run's key-value store. @default {a new MemoryChannel} */
  channel?: Channel;
  /** Extra handlers by name (tasks pick one with `{ handler: "name" }`). */
  handlers?: Record<string, TaskHandler>;
  /** Where checkpoints are written. @default {undefined} (checkpoints need it or an explicit path) */
  checkpointDir?: string;
  /**
   * Signs checkpoints with HMAC-SHA-256 (`resume` and `loadCheckpoint` with the same secret
   * refuse unsigned or tampered ones). @default {undefined} (unsigned)
   */
  checkpointSecret?: string;
  /** Keep only the newest n checkpoints of this run in `checkpointDir`. @default {undefined} (all) */
  keepCheckpoints?: number;
  /** Distributed backend (e.g. `redisBackend(...)`). */
  backend?: Backend;
  /**
   * Records the run as it goes (`localRunStore()`, `redisRunStore()`): it can be found, watched,
   * cancelled, and continued by another process if this one dies. The run's channel and
   * feedback requests then live in the store too. @default {undefined} (not recorded)
   */
  store?: RunStore;
  /** With a store: a second run with this key (and flow) returns the first run's result. */
  idempotencyKey?: string;
  /** With a store: how long this process holds the run without renewing. @default {10000} */
  leaseMs?: number;
  /** Run id. @default {a random UUID} */
  runId?: string;
  /** Receives every event of the run. */
  onEvent?: EventListener;
  /**
   * Receives the run's progress (tasks done, running, failed, waiting; elapsed time) every
   * `progressIntervalMs` and once when the run ends (`progressReporter()` shows it to people).
   * @default {undefined}
   */
  onProgress?: (progress: RunProgress) => void;
  /** How often `onProgress` is called while the run goes on (10 ms or more). @default {1000} */
  progressIntervalMs?: number;
  /**
   * Where the members of every parallel group run, as a handler name (`"inline"` = `"direct"`,
   * `"workers"` = `"worker"`); a group's own `executor` and a task's own `handler` win.
   * @default {the backend, else "direct"}
   */
  executor?: GroupExecutor;
  /** Where human-in-the-loop requests and answers are kept. @default {files under checkpointDir} */
  feedbackStore?: FeedbackStore;
  /**
   * Time source of every timer of the run (task timeouts, retry delays, feedback timeouts): the
   * test kit's fake clock drives them. @default {the system clock}
   */
  clock?: Clock;
  /**
   * Handlers by task name for this run: a task named here runs on this handler, whatever its
   * own `handler` option and placement say (the test kit's mocks use it; so can a staging run
   * that routes one task elsewhere). @default {undefined}
   */
  taskHandlers?: Record<string, TaskHandler>;
  /**
   * Test hook (see `crashAfter` in `@graflow/graflow/testing`): consulted after each task
   * outcome is applied; returning true stops the run on the spot, as if its process died, and
   * the run rejects with a `SimulatedCrash` holding the state at that instant.
   * @default {undefined}
   */
  crashAfter?: (point: CrashPoint) => boolean;
}

/** How a run ended. */
export type RunStatus = "completed" | "terminated" | "waiting";

/** What `run()` resolves to. */
export interface RunResult {
  /** The run id. */
  runId: string;
  /** `completed`, `terminated` (by `ctx.terminate`) or `waiting` (for human feedback). */
  status: RunStatus;
  /**
   * The result of the node the run ended on: for a flow that ends with a parallel group, the
   * group's object keyed by member (whatever member finished last); when several sinks
   * completed, the one that finished last; after `terminate`, the terminating task's result.
   */
  output: unknown;
  /** Every task's (latest) result by task id; groups by group id. */
  results: Record<string, unknown>;
  /** Task ids in completion order (a task that ran several times appears several times). */
  completed: string[];
  /** Task executions counted. */
  steps: number;
  /** The run's channel, readable after the run. */
  channel: Channel;
  /** Base paths of the checkpoints written by this run. */
  checkpoints: string[];
  /**
   * When `status` is `"waiting"`: the open feedback request and the checkpoint to resume (`""`
   * for a run recorded in a store without a checkpoint folder: an orchestrator continues it
   * from its journal once answered).
   */
  feedback?: { id: string; checkpoint: string };
  /** The executed graph, with dynamic tasks and iterations. */
  graph: ExecutedGraph;
}

/** Everything a run needs, already checked. */
export interface EngineSetup {
  /** The run id. */
  runId: string;
  /** The flow's graph. */
  graph: Graph;
  /** Its plan for this run. */
  plan: Plan;
  /** The run's channel. */
  channel: Channel;
  /** Handlers by name. */
  handlers: ReadonlyMap<string, TaskHandler>;
  /** The run's executor and backend (for placement). */
  placement: PlacementOptions;
  /** Hard limit of task executions. */
  maxSteps: number;
  /** Aborting it fails the run at once with its reason. */
  signal?: AbortSignal;
  /** Time source of every timer of the run. */
  clock: Clock;
  /** Receives events. */
  onEvent?: (event: WorkflowEvent) => void;
  /** Tracing, metrics and progress of the run (absent when nothing is recorded). */
  observer?: RunObserver;
  /** Receives every transition of the state. */
  record?: (transition: Transition) => void;
  /**
   * Continue a run from its journal: the state at the journal's snapshot (if any), the
   * transitions after it, and whether to retry its failed tasks.
   */
  journal?: { snapshot?: RunStateData; transitions: Transition[]; retry: boolean };
  /** Handlers by task name, consulted before placement (the test kit's mocks). */
  taskHandlers?: ReadonlyMap<string, TaskHandler>;
  /**
   * Consulted after each outcome is applied to the state: true stops the run on the spot, as
   * if its process died (the test kit's crash injection). The run rejects with a
   * `SimulatedCrash` (`./simulated_crash.ts`) holding the state at that instant.
   */
  crashAfter?: (point: CrashPoint) => boolean;
  /** Creates the run's persistence from the engine's port. */
  persistence: (port: EnginePort) => RunPersistence;
}
