// deno-lint-ignore-file no-console
/**
 * Several container images in one flow: the analysis tasks run in one image, the report in
 * another, the rest on the host.
 *
 *     prepare >> (stats | histogram) >> report >> publish
 *     (host)      (image A, 2 tasks)    (image B)  (host)
 *
 * Image A is `localhost/graflow-deno:latest` (Deno only; built by `.ci/bootstrap.sh`). Image B,
 * `localhost/graflow-deno:reporting`, is derived from it through the Docker API (a commit with
 * `ENV GRAFLOW_IMAGE_ROLE=reporting`), so the report task can tell where it runs. Each task in a
 * container bumps a counter in the run's channel through its `ctx`.
 *
 * The tasks live in `docker_multi_image_tasks.ts`: containers import that module to find them,
 * so it imports nothing the image lacks (no dockerode, no npm packages; the image has no
 * network and no package cache).
 *
 * The engine is `DOCKER_HOST` when set, else a private `podman system service` on a temporary
 * socket that the example starts and stops. Run it with:
 *
 *     deno run -A examples/docker_multi_image.ts
 *
 * @module
 */
// @ts-types="@types/dockerode"
import Docker from "dockerode";
import { flow } from "../mod.ts";
import {
  dockerHandler,
  type PodmanService,
  startPodmanService,
} from "../src/handlers/docker/mod.ts";
import {
  histogram,
  type Place,
  prepare,
  publish,
  report,
  stats,
} from "./docker_multi_image_tasks.ts";

const BASE = "localhost/graflow-deno:latest";
const REPORTING = "localhost/graflow-deno:reporting";

/** Builds image B from image A through the Docker API (once; later runs reuse it). */
async function ensureReportingImage(docker: Docker): Promise<void> {
  const info = await docker.getImage(REPORTING).inspect().catch(() => undefined);
  if (info?.Config?.Env?.includes("GRAFLOW_IMAGE_ROLE=reporting")) return;
  const base = await docker.getImage(BASE).inspect().catch(() => undefined);
  if (!base) {
    throw new Error(`Cannot build ${REPORTING}: ${BASE} is missing (run bash .ci/bootstrap.sh)`);
  }
  const scratch = await docker.createContainer({ Image: BASE });
  try {
    await scratch.commit({
      repo: "localhost/graflow-deno",
      tag: "reporting",
      changes: ["ENV GRAFLOW_IMAGE_ROLE=reporting", "LABEL graflow.example=docker_multi_image"],
    });
  } finally {
    await scratch.remove({ force: true });
  }
}

if (import.meta.main) {
  let podman: PodmanService | undefined;
  const socketPath = Deno.env.get("DOCKER_HOST")
    ? undefined
    : (podman = await startPodmanService()).socketPath;
  try {
    console.log(
      `Engine: ${
        podman
          ? `a private podman service on unix://${socketPath}`
          : `DOCKER_HOST=${Deno.env.get("DOCKER_HOST")}`
      }`,
    );
    const docker = socketPath ? new Docker({ socketPath }) : new Docker();
    await ensureReportingImage(docker);
    console.log(
      `Images: analysis = ${BASE}, reporting = ${REPORTING} (ENV GRAFLOW_IMAGE_ROLE=reporting)\n`,
    );

    await using analysis = dockerHandler({
      image: BASE,
      socketPath,
      env: { GRAFLOW_HANDLER: "analysis" },
      memory: "256m",
      cpus: 1,
    });
    await using reporting = dockerHandler({
      image: REPORTING,
      socketPath,
      env: { GRAFLOW_HANDLER: "reporting" },
      pull: "never",
    });
    const pipeline = flow`${prepare} >> (${stats} | ${histogram}) >> ${report} >> ${publish}`;
    const started = performance.now();
    const result = await pipeline.run({ input: 1000, handlers: { analysis, reporting } });
    const elapsed = performance.now() - started;

    console.log(`\nWhere each task ran:`);
    for (const [id, p] of Object.entries(result.output as Record<string, Place>)) {
      console.log(
        `  ${id.padEnd(9)} handler ${p.handler.padEnd(9)} image role ${
          p.role.padEnd(9)
        } uid ${p.uid}, network ${p.network.join(",")}`,
      );
    }
    console.log(`Containers that used the channel: ${await result.channel.get("containers")}`);
    console.log(
      `Run ${result.status} in ${elapsed.toFixed(0)} ms: ${result.completed.join(" > ")}`,
    );
  } finally {
    await podman?.close();
  }
}
