// deno-lint-ignore-file no-console
/**
 * Test helper: a real `redis-server` on a free loopback port, in a temporary directory, always
 * stopped. When redis-server is missing the Redis tests are skipped with a message, unless
 * REQUIRE_REDIS=1 (CI), where they fail.
 *
 * @module
 */

/** Options of {@linkcode RedisServer.start}. */
export interface RedisServerOptions {
  /** Append-only file on (`appendfsync always`). @default {false} */
  aof?: boolean;
  /** `requirepass`. */
  password?: string;
  /** ACL rules, e.g. `["user worker on >pw ~* &* +@all"]`. */
  acl?: string[];
  /** TLS only: serve TLS on the port with these PEM files. */
  tls?: { cert: string; key: string };
  /** Port to use (e.g. to restart on the same port). @default {a free port} */
  port?: number;
  /** Data directory (kept across a restart). @default {a new temporary directory} */
  dir?: string;
  /** Addresses to listen on. @default {["127.0.0.1"]} */
  bind?: string[];
}

function findRedis(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const p = `${dir}/redis-server`;
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return undefined;
}

/** Path of redis-server, or undefined. */
export const REDIS_SERVER: string | undefined = findRedis();
const required = Deno.env.get("REQUIRE_REDIS") === "1";
if (!REDIS_SERVER) {
  if (required) {
    throw new Error("Cannot run the Redis tests: redis-server is not on PATH and REQUIRE_REDIS=1");
  }
  console.warn("Skipping the Redis tests: redis-server is not on PATH (install redis-server)");
}
/** True when the Redis tests must be skipped. */
export const NO_REDIS: boolean = !REDIS_SERVER;

/**
 * A free TCP port on 127.0.0.1.
 *
 * @returns The port.
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A random key prefix for one test. */
export function randomPrefix(): string {
  return `t-${crypto.randomUUID().slice(0, 8)}`;
}

/** A running redis-server. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  readonly dir: string;
  readonly options: RedisServerOptions;
  #child: Deno.ChildProcess | undefined;
  #ownDir: boolean;

  private constructor(options: RedisServerOptions, port: number, dir: string, ownDir: boolean) {
    this.options = options;
    this.port = port;
    this.dir = dir;
    this.#ownDir = ownDir;
  }

  /** Starts a server and waits until it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    if (!REDIS_SERVER) throw new Error("redis-server is not on PATH");
    const dir = options.dir ?? await Deno.makeTempDir({ prefix: "graflow-redis-" });
    const server = new RedisServer(options, options.port ?? freePort(), dir, !options.dir);
    await server.#spawn();
    return server;
  }

  /** `redis://` (or `rediss://`) URL, with credentials when given. */
  url(auth?: { user?: string; password?: string }): string {
    const scheme = this.options.tls ? "rediss" : "redis";
    const cred = auth
      ? `${encodeURIComponent(auth.user ?? "")}:${encodeURIComponent(auth.password ?? "")}@`
      : this.options.password
      ? `:${encodeURIComponent(this.options.password)}@`
      : "";
    return `${scheme}://${cred}127.0.0.1:${this.port}`;
  }

  async #spawn(): Promise<void> {
    const o = this.options;
    const args = [
      "--bind",
      ...(o.bind ?? ["127.0.0.1"]),
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      o.aof ? "yes" : "no",
      "--appendfsync",
      "always",
      "--protected-mode",
      "no",
      "--loglevel",
      "warning",
    ];
    if (o.tls) {
      args.push("--port", "0", "--tls-port", String(this.port), "--tls-cert-file", o.tls.cert);
      args.push("--tls-key-file", o.tls.key, "--tls-auth-clients", "no");
    } else args.push("--port", String(this.port));
    if (o.password) args.push("--requirepass", o.password);
    if (o.acl) {
      const file = `${this.dir}/users.acl`;
      await Deno.writeTextFile(file, o.acl.join("\n") + "\n");
      args.push("--aclfile", file);
    }
    this.#child = new Deno.Command(REDIS_SERVER!, { args, stdout: "null", stderr: "piped" })
      .spawn();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await this.#listening()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.stop();
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  async #listening(): Promise<boolean> {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
      conn.close();
      return true;
    } catch {
      return false;
    }
  }

  /** Stops the server the way `SHUTDOWN NOSAVE` would (SIGKILL: nothing is saved). */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.stderr.cancel().catch(() => {});
    await child.status;
  }

  /** Starts the server again on the same port and directory, optionally with other options. */
  async restart(options: Partial<RedisServerOptions> = {}): Promise<void> {
    await this.kill();
    Object.assign(this.options, options);
    await this.#spawn();
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    if (this.#ownDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
