import assert from "assert";
import { flow, task } from "../../mod.ts";

Deno.test("flow runs a sequence and a parallel group in-process", async () => {
  task("smoke_fetch", () => [3, 1, 2]);
  task("smoke_clean", (xs: number[]) => xs.filter((x) => x > 1));
  task("smoke_count", (xs: number[]) => xs.length);
  task("smoke_merge", (r: { smoke_clean: number[]; smoke_count: number }) => r);
  const result = await flow`smoke_fetch >> (smoke_clean | smoke_count) >> smoke_merge`.run();
  assert.deepEqual(result.output, { smoke_clean: [3, 2], smoke_count: 3 });
  assert.equal(result.status, "completed");
  assert.equal(result.steps, 4);
});
