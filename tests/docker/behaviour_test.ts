/**
 * The core behaviour suite with every task in a container of its own (`run({ taskHandlers })`
 * sends each suite task to the Docker handler): the scenarios that say something about a
 * container executor — results and joins across containers, group failures with their errors,
 * dynamic tasks, iterations, terminate and cancel from inside, retries, the shared channel —
 * not the ones that only exercise the engine again (each container costs about a second).
 *
 * @module
 */
import { behaviourSuite } from "../engine/behaviour_suite.ts";
import * as T from "../engine/fixtures/behaviour_tasks.ts";
import { Task } from "../../mod.ts";
import { dockerHandler } from "../../src/handlers/docker/mod.ts";
import { IMAGE, service } from "./engine.ts";

const REQUIRED = Deno.env.get("REQUIRE_CONTAINERS") === "1";
const ALL = Object.values(T).filter((t): t is Task => t instanceof Task);
const SUBSET = [
  "a sequence passes each result on",
  "a join written as two statements gets its inputs keyed by predecessor",
  "strict: one failure fails the group with exact ParallelGroupError fields",
  "ctx.next with a new task: it runs after the caller, whose successors still run",
  "ctx.nextIteration: successors run once, after the last iteration",
  "ctx.cancel fails the run with WorkflowCanceledError",
  "retries: a flaky task succeeds on attempt 3; a hopeless one exhausts them",
  "a failing task rejects with TaskFailedError whose cause keeps its class",
  "tasks share the run's channel and read earlier results",
];

behaviourSuite("containers", () => {
  const docker = dockerHandler({ image: IMAGE, socketPath: service!.socketPath });
  const taskHandlers = Object.fromEntries(ALL.map((t) => [t.name, docker]));
  return Promise.resolve({ options: { taskHandlers }, close: () => docker.close() });
}, { ignore: !service && !REQUIRED, only: (title) => SUBSET.includes(title) });
