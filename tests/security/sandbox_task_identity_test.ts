/**
 * Task identity: a name stands for one function in a process. Two different functions under one
 * name are a `TypeError`, even with the same source text in the same module (their closures may
 * differ: `task("mult", (x) => x * k)` for k = 1 and 10 must not silently reuse the first); only
 * the very same function object, with the same options, registers again as the same task.
 *
 * @module
 */
import assert from "assert";
import { flow, task } from "../../mod.ts";

function multiplier(k: number) {
  return task("sec_mult", (x: number) => x * k);
}

Deno.test("two closures with the same source under one name are a TypeError, not the first one again", async () => {
  const times1 = multiplier(1);
  assert.equal((await flow`${times1}`.run({ input: 2 })).output, 2);
  assert.throws(() => multiplier(10), (error: unknown) => {
    assert.ok(error instanceof TypeError);
    assert.match(
      error.message,
      /^Cannot define task "sec_mult": a different task with this name already exists/,
    );
    return true;
  });
});

Deno.test("only the very same function object with the same options registers again", () => {
  const fn = (x: number) => x + 1;
  const first = task("sec_same_fn", fn, { retries: { maxRetries: 1, initialDelayMs: 5 } });
  assert.equal(task("sec_same_fn", fn, { retries: { maxRetries: 1, initialDelayMs: 5 } }), first);
  assert.throws(() => task("sec_same_fn", fn, { retries: 3 }), TypeError);
  assert.throws(() => task("sec_same_fn", (x: number) => x + 1), TypeError);
});
