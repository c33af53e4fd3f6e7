/**
 * `examples/dashboard.ts --smoke`, run as a user would: it starts a store, an orchestrator and
 * the server, prints the URL and tokens, approves the release through the API, and every run
 * settles as expected.
 *
 * @module
 */
import assert from "assert";

Deno.test("examples/dashboard.ts --smoke serves, prints the URL and tokens, and the approved release completes", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "examples/dashboard.ts", "--smoke"],
    cwd: new URL("../../", import.meta.url),
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(stderr, "");
  assert.match(stdout, /^Dashboard: http:\/\/127\.0\.0\.1:\d+\/ui\/$/m);
  assert.match(stdout, /^Viewer token: +viewer-[0-9a-f-]{36}$/m);
  assert.match(stdout, /^Operator token: +operator-[0-9a-f-]{36}$/m);
  assert.match(stdout, /^Approved by you$/m);
  const results = stdout.split("\n").filter((l) => /^dash_/.test(l));
  assert.deepEqual(results, [
    "dash_etl: completed",
    "dash_etl: completed",
    "dash_etl: failed",
    "dash_release: completed",
  ]);
});
