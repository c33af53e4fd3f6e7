/**
 * Runs `examples/custom_handler.ts` as a user would and checks what it prints.
 *
 * @module
 */
import assert from "assert";

Deno.test("examples/custom_handler.ts rate-limits lookups and caches a worker task", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "examples/custom_handler.ts"],
    cwd: new URL("../../", import.meta.url),
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  assert.equal(err, "");
  const starts = out.match(/^Rate limit: 6 lookups, started at ms ([\d, ]+)$/m)?.[1];
  assert.ok(starts, out);
  const ms = starts.split(", ").map(Number);
  // burst 2, then one start every 100 ms
  assert.ok(ms[1] - ms[0] < 90, starts); // a burst, unlike the 100 ms cadence after it
  for (let i = 2; i < ms.length; i++) assert.ok(ms[i] - ms[i - 1] >= 90, starts);
  assert.match(out, /^Rate limit: last start >= 350 ms after the first$/m);
  assert.match(out, /^Cache round 1: fib\(30\) = 832040 in [\d.]+ ms$/m);
  assert.match(out, /^Cache round 3: fib\(30\) = 832040 in [\d.]+ ms$/m);
  assert.match(out, /^Cache: 2 hits, 1 miss, 1 worker started$/m);
});
