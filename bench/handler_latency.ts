// deno-lint-ignore-file no-console
/**
 * Start-to-result latency of a one-task flow whose task does nothing, per handler: `"direct"`
 * (in-process), `"worker"` (Web Worker pool, when that handler is registered) and the Docker
 * handler (a new container per run, podman here). Each figure is the time of `flow.run()` from
 * the call to the result; median of 20 runs after 2 warm-up runs (the first Docker run also
 * connects, sweeps and checks the image). Prints a markdown table.
 *
 *     deno run -A bench/handler_latency.ts [--runs 20]
 *
 * The engine is `DOCKER_HOST` when set, else a private `podman system service` that this script
 * starts and stops. Containers import this module to find the task, so it defines tasks only at
 * the top level and does its work under `import.meta.main`.
 *
 * @module
 */
import { flow, type Task, task, type TaskHandler } from "../mod.ts";
import { dockerHandler, startPodmanService } from "../src/handlers/docker/mod.ts";

const noop = () => null;
/** The no-op task per handler name. */
export const tasks: Record<string, Task> = {
  direct: task("lat_direct", noop),
  worker: task("lat_worker", noop, { handler: "worker" }),
  docker: task("lat_docker", noop, { handler: "docker" }),
};

function stats(ms: number[]): { median: number; p90: number; min: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median, p90: at(0.9), min: s[0], max: s[s.length - 1] };
}

async function measure(
  t: Task,
  handlers: Record<string, TaskHandler>,
  runs: number,
): Promise<number[] | string> {
  const f = flow`${t}`;
  try {
    for (let i = 0; i < 2; i++) await f.run({ handlers });
  } catch (error) {
    return (error as { code?: string }).code === "HANDLER_NOT_FOUND"
      ? 'pending: no "worker" handler is registered on this branch'
      : `failed: ${(error as Error).message}`;
  }
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await f.run({ handlers });
    times.push(performance.now() - started);
  }
  return times;
}

function fmt(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--runs");
  const runs = i >= 0 ? Number(Deno.args[i + 1]) : 20;
  const podman = Deno.env.get("DOCKER_HOST") ? undefined : await startPodmanService();
  try {
    await using docker = dockerHandler({
      image: "localhost/graflow-deno:latest",
      socketPath: podman?.socketPath,
    });
    console.log(`| handler | median | p90 | min | max | runs |`);
    console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
    for (const [name, t] of Object.entries(tasks)) {
      const result = await measure(t, { docker }, runs);
      if (typeof result === "string") console.log(`| ${name} | ${result} | | | | |`);
      else {
        const s = stats(result);
        console.log(
          `| ${name} | ${fmt(s.median)} | ${fmt(s.p90)} | ${fmt(s.min)} | ${
            fmt(s.max)
          } | ${runs} |`,
        );
      }
    }
  } finally {
    await podman?.close();
  }
  Deno.exit(0); // a Web Worker pool, if any, keeps the process alive otherwise
}
