/**
 * Test helper: worker processes (`deno run -A workers/main.ts`) with the test task module.
 *
 * @module
 */
import { type RedisBackend, redisBackend } from "../../src/redis/mod.ts";
import { randomPrefix, RedisServer } from "./redis_server.ts";

const MAIN = new URL("../../workers/main.ts", import.meta.url).pathname;
/** The task module the test workers import. */
export const TASKS = new URL("./fixtures/tasks.ts", import.meta.url).href;

/** A worker process. */
export class WorkerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly events: Record<string, unknown>[] = [];
  readonly exited: Promise<Deno.CommandStatus>;
  /** True once the worker reported that it started. */
  isStarted = false;
  #stderr = "";
  #started: Promise<Record<string, unknown>>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, ...args],
      env: { NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let started!: (e: Record<string, unknown>) => void;
    let failed!: (e: Error) => void;
    this.#started = new Promise((res, rej) => (started = res, failed = rej));
    this.#started.catch(() => {});
    const read = async (stream: ReadableStream<Uint8Array>, err: boolean) => {
      let buf = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (err) {
            this.#stderr += line + "\n";
            continue;
          }
          this.lines.push(line);
          try {
            const e = JSON.parse(line);
            this.events.push(e);
            if (e.type === "started") {
              this.isStarted = true;
              started(e);
            }
          } catch { /* not JSON */ }
        }
      }
    };
    const done = Promise.all([read(this.child.stdout, false), read(this.child.stderr, true)]);
    this.exited = done.then(() => this.child.status).then((s) => {
      failed(new Error(`worker exited (code ${s.code}) before it started: ${this.#stderr}`));
      return s;
    });
  }

  /** Resolves with the "started" event. */
  started(): Promise<Record<string, unknown>> {
    return this.#started;
  }

  get stderr(): string {
    return this.#stderr;
  }

  signal(sig: Deno.Signal): void {
    try {
      this.child.kill(sig);
    } catch { /* already gone */ }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
  }
}

/**
 * Starts worker processes and waits until each has started.
 *
 * @param n How many.
 * @param url Redis URL.
 * @param prefix Key prefix.
 * @param extra More flags.
 * @returns The processes.
 */
export async function startWorkers(
  n: number,
  url: string,
  prefix: string,
  extra: string[] = [],
): Promise<WorkerProcess[]> {
  const workers = Array.from(
    { length: n },
    () => new WorkerProcess(["--redis", url, "--prefix", prefix, "--module", TASKS, ...extra]),
  );
  await Promise.all(workers.map((w) => w.started()));
  return workers;
}

/** Stops every worker (SIGKILL) and waits for them. */
export async function killAll(workers: WorkerProcess[]): Promise<void> {
  for (const w of workers) w.signal("SIGKILL");
  await Promise.all(workers.map((w) => w.exited));
}

/**
 * A redis-server and two worker processes (concurrency 8, importing `module`), started on the
 * first `backend()` and shared by a suite's tests; `stop()` ends them.
 */
export class SharedFleet {
  /** The server, once started. */
  server: RedisServer | undefined;
  /** The worker processes, once started. */
  workers: WorkerProcess[] = [];
  /** The key prefix. */
  readonly prefix: string = randomPrefix();
  readonly #module: string;

  /**
   * Creates the fleet (nothing starts yet).
   *
   * @param module The task module the workers import.
   */
  constructor(module: string) {
    this.#module = module;
  }

  /** A new backend on the fleet (starting it the first time). */
  async backend(): Promise<RedisBackend> {
    if (!this.server) {
      this.server = await RedisServer.start();
      this.workers = await startWorkers(2, this.server.url(), this.prefix, [
        "--module",
        this.#module,
        "--concurrency",
        "8",
      ]);
    }
    return redisBackend({ url: this.server.url(), prefix: this.prefix });
  }

  /** Kills the workers and stops the server. */
  async stop(): Promise<void> {
    await killAll(this.workers);
    await this.server?.stop();
  }
}
