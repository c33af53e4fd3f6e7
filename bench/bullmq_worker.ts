// deno-lint-ignore-file no-console
/**
 * A BullMQ worker process for the Redis benchmark: no-op jobs, completed jobs removed.
 *
 *     deno run -A bench/bullmq_worker.ts <redis-url> <queue> <concurrency>
 *
 * @module
 */
import { Worker } from "bullmq";

const [url, queue, concurrency] = Deno.args;
const u = new URL(url);
const worker = new Worker(queue, async () => null, {
  connection: { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null },
  concurrency: Number(concurrency),
  removeOnComplete: { count: 0 },
  removeOnFail: { count: 0 },
});
await worker.waitUntilReady();
console.log("ready");
Deno.addSignalListener("SIGTERM", async () => {
  await worker.close();
  Deno.exit(0);
});
