/**
 * Web Worker entry of the `WorkerPool` (`src/handlers/worker_pool.ts`).
 *
 * Runs tasks one at a time, in the order they arrive, with `runRemoteTask`: imports the module
 * that defined the task and finds it by name, proxies its `ctx` calls to the host, aborts its
 * `ctx.signal` when the host asks (a task aborted before it started is skipped), and reports the
 * outcome of each task before starting the next. It also reports what escapes a task (uncaught
 * errors, unhandled rejections, `self.close()`, `Deno.exit()`) so the host can fail that task and
 * replace the worker.
 *
 * Task code shares this worker's global scope, so the runtime keeps what it needs out of its
 * reach as far as one realm allows: it is the first module evaluated and its message listener
 * is the first one registered, and it stops the host's messages there, so a listener a task
 * adds never sees them (other jobs' inputs and nonces); it keeps its own references to
 * `postMessage`, `stopImmediatePropagation` and the `isTrusted` getter, and ignores message
 * events that task code dispatched itself (a synthetic "run" naming a module is never run). The
 * host does not rely on this: it accepts an outcome or a call only for the job the worker runs
 * now, with that job's nonce, and checks every message's shape.
 *
 * @module
 */
import type { ContextCall } from "../src/context/remote_context.ts";
import { runRemoteTask } from "../src/context/remote_task.ts";
import { fromErrorRecord, toErrorRecord } from "../src/errors.ts";
import type { HostMessage, RunMessage, WorkerMessage } from "../src/handlers/worker_protocol.ts";

/** The parts of the worker global scope used here. */
interface WorkerScope {
  postMessage(message: unknown): void;
  close(): void;
  addEventListener(type: "message", listener: (event: MessageEvent<HostMessage>) => void): void;
  addEventListener(
    type: "error" | "unhandledrejection",
    listener: (event: Event & { error?: unknown; message?: string; reason?: unknown }) => void,
  ): void;
}

const scope = globalThis as unknown as WorkerScope;
// Own references, taken before any task module runs (a task may replace the globals).
const postRaw = scope.postMessage.bind(scope);
const stopImmediate = Event.prototype.stopImmediatePropagation;
// The prototype's getter reads the event's internal flag (an own property can shadow the name).
const isTrusted = Object.getOwnPropertyDescriptor(Event.prototype, "isTrusted")!.get!;
const apply = Reflect.apply;
const aborts = new Map<number, AbortController>();
const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
let nextCall = 1;

function post(message: WorkerMessage): void {
  postRaw(message);
}

scope.addEventListener("error", (event) => {
  event.preventDefault();
  const error = event.error instanceof Error ? event.error : new Error(event.message ?? "error");
  post({ type: "crash", kind: "uncaught error", error: toErrorRecord(error) });
});
scope.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  post({ type: "crash", kind: "unhandled rejection", error: toErrorRecord(event.reason) });
});

const realClose = scope.close.bind(scope);
scope.close = () => {
  post({ type: "exit", how: "self.close()" });
  realClose();
};
const denoNs = Deno as unknown as { exit(code?: number): never };
const realExit = denoNs.exit.bind(Deno);
denoNs.exit = (code?: number): never => {
  post({ type: "exit", how: `Deno.exit(${code ?? ""})` });
  return realExit(code);
};

function call(id: number, nonce: string, request: ContextCall): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callId = nextCall++;
    pending.set(callId, { resolve, reject });
    post({ type: "call", id, nonce, callId, call: request });
  });
}

const waiting: RunMessage[] = [];
let draining = false;

function enqueue(m: RunMessage): void {
  aborts.set(m.id, new AbortController());
  waiting.push(m);
  if (!draining) drain();
}

async function drain(): Promise<void> {
  draining = true;
  for (let m = waiting.shift(); m; m = waiting.shift()) await run(m);
  draining = false;
}

async function run(m: RunMessage): Promise<void> {
  const controller = aborts.get(m.id)!;
  const outcome = controller.signal.aborted
    ? { ok: false as const, error: toErrorRecord(controller.signal.reason) }
    : await runRemoteTask(m.message, {
      signal: controller.signal,
      call: (request) => call(m.id, m.nonce, request),
      where: "worker",
    });
  aborts.delete(m.id);
  post({ type: "outcome", id: m.id, nonce: m.nonce, outcome });
}

// A listener, not `onmessage`: a task module that sets `self.onmessage` does not cut us off.
scope.addEventListener("message", (event) => {
  // The host's messages are for the runtime only: listeners added by task code never see them.
  apply(stopImmediate, event, []);
  // Only the host's messages: a task could dispatch a MessageEvent of its own ("run this module").
  if (!apply(isTrusted, event, [])) return;
  const m = event.data; // an own property of the event: not reachable through a prototype
  switch (m?.type) {
    case "run":
      enqueue(m);
      return;
    case "batch":
      for (const r of m.runs) enqueue(r);
      return;
    case "abort":
      aborts.get(m.id)?.abort(fromErrorRecord(m.reason));
      return;
    case "reply": {
      const p = pending.get(m.callId);
      if (!p) return;
      pending.delete(m.callId);
      if (m.ok) p.resolve(m.value);
      else p.reject(fromErrorRecord(m.error));
    }
  }
});
