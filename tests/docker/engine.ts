/**
 * The container engine for the Docker handler tests: a private `podman system service` on a
 * temporary socket, started once per test file and stopped when the file's process ends. When
 * podman or the image is missing, container tests are skipped with a message naming what is
 * missing, unless REQUIRE_CONTAINERS=1 (CI), where they fail with that message instead.
 *
 * @module
 */
import assert from "assert";
// @ts-types="@types/dockerode"
import Docker from "dockerode";
import { type PodmanService, startPodmanService } from "../../src/handlers/docker/mod.ts";

/** The image the tests run (built by .ci/bootstrap.sh). */
export const IMAGE = "localhost/graflow-deno:latest";
/** Project root. */
export const ROOT = new URL("../../", import.meta.url);

const REQUIRED = Deno.env.get("REQUIRE_CONTAINERS") === "1";

async function run(cmd: string, args: string[], env?: Record<string, string>): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function setUp(): Promise<{ service: PodmanService } | { missing: string }> {
  if (!(await run("podman", ["--version"]))) {
    return { missing: "podman is not installed (not on PATH)" };
  }
  if (!(await run("podman", ["image", "exists", IMAGE]))) {
    // Build it the way CI does (needs root for podman; SKIP_APT leaves apt alone).
    const script = new URL(".ci/bootstrap.sh", ROOT).pathname;
    const built = await run("bash", [script, new URL(".", ROOT).pathname], { SKIP_APT: "1" });
    if (!built || !(await run("podman", ["image", "exists", IMAGE]))) {
      return {
        missing: `image ${IMAGE} is missing and \`bash .ci/bootstrap.sh\` could not build it`,
      };
    }
  }
  try {
    return { service: await startPodmanService() };
  } catch (error) {
    return { missing: (error as Error).message };
  }
}

const setup = await setUp();

/** The running service, when there is one. */
export const service: PodmanService | undefined = "service" in setup ? setup.service : undefined;

if (service) {
  // Stop the service when this test file's process ends (tests share it).
  globalThis.addEventListener("unload", () => {
    try {
      Deno.kill(service.pid, "SIGTERM");
    } catch {
      // already gone
    }
    try {
      Deno.removeSync(service.dir, { recursive: true });
    } catch {
      // already gone
    }
  });
} else if (!REQUIRED) {
  // deno-lint-ignore no-console
  console.warn(`Skipping container tests: ${(setup as { missing: string }).missing}`);
}

/** A dockerode client on the test service (for checking what containers exist). */
export const docker: Docker | undefined = service
  ? new Docker({ socketPath: service.socketPath })
  : undefined;

/**
 * Registers a test that needs the container engine: skipped (or, with REQUIRE_CONTAINERS=1,
 * failed) when there is none.
 *
 * @param name Test name.
 * @param fn The test; receives the socket path.
 */
export function containerTest(name: string, fn: (socketPath: string) => Promise<void>): void {
  if (service) Deno.test(name, () => fn(service.socketPath));
  else if (REQUIRED) {
    Deno.test(name, () => {
      throw new Error(`REQUIRE_CONTAINERS=1 but ${(setup as { missing: string }).missing}`);
    });
  } else Deno.test({ name, ignore: true, fn() {} });
}

/**
 * The containers (any state) carrying a label.
 *
 * @param label `key=value`.
 * @returns Their ids.
 */
export async function containersWith(label: string): Promise<string[]> {
  const list = await docker!.listContainers({ all: true, filters: { label: [label] } });
  return list.map((c) => c.Id);
}

/** A rejected run's error, loosely typed for assertions on its cause. */
export type Failure = Error & {
  taskId?: string;
  code?: string;
  cause: Error & Record<string, unknown>;
};

/**
 * Waits for a run that must fail.
 *
 * @param run The run's promise.
 * @returns What it rejected with.
 */
export async function rejection(run: Promise<unknown>): Promise<Failure> {
  try {
    await run;
  } catch (error) {
    return error as Failure;
  }
  return assert.fail("expected the run to fail");
}
