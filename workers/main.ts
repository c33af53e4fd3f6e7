/**
 * `graflow worker` under its older name: `deno run -A workers/main.ts [flags]` is
 * `graflow worker [flags]` (same flags, environment variables, logs and exit codes; see
 * `workers/cli.ts` and `workers/worker_command.ts`).
 *
 * @module
 */
import { processIo } from "./cli_command.ts";
import { workerCommand } from "./worker_command.ts";

if (import.meta.main) {
  const usage = "deno run -A workers/main.ts [flags]   (graflow-worker; same as: graflow worker)";
  Deno.exit(await workerCommand(usage).run(Deno.args, processIo));
}
