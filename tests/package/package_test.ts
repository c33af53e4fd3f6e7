/**
 * What the published package carries: an import map with only what the library needs (the
 * benchmarks' peers live in `bench/deno.json`), `deno doc` of every entry point without warnings,
 * and a lint task that checks the documentation of every entry point.
 *
 * @module
 */
import assert from "assert";

const ROOT = new URL("../../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const bench = JSON.parse(await Deno.readTextFile(new URL("bench/deno.json", ROOT)));
const ENTRIES: string[] = Object.values(config.exports as Record<string, string>)
  .map((p) => p.replace(/^\.\//, ""));
const BENCH_ONLY = ["bullmq", "@langchain/core", "@langchain/langgraph", "msgpackr-extract"];

Deno.test("the package's import map holds only what the library needs", () => {
  const imports = config.imports as Record<string, string>;
  for (const name of BENCH_ONLY) {
    assert.ok(!(name in imports), `${name} is a benchmark peer: it belongs in bench/deno.json`);
    assert.match(bench.imports[name], /^npm:/, `bench/deno.json lacks ${name}`);
  }
  assert.ok(!("scopes" in config), "a linked or published package ignores scopes");
  // dockerode: loaded by the Docker handler at run time; @types/dockerode: types for the tests and
  // examples that drive the engine directly (types only, never loaded); ioredis: through
  // src/deps/ioredis.ts, which pins it; assert: node:assert for the tests; hono: the router of
  // the ./server entry point; @opentelemetry/api: for task code and the tests (the library takes
  // only its types, from src/deps/otel_api.ts).
  assert.deepEqual(Object.keys(imports).sort(), [
    "@opentelemetry/api",
    "@types/dockerode",
    "assert",
    "dockerode",
    "hono",
    "ioredis",
  ]);
  assert.equal(imports.ioredis, "./src/deps/ioredis.ts");
  assert.match(imports.assert, /^node:/);
});

Deno.test("ioredis is pinned once for the library, and the benchmarks use the same version", async () => {
  const shim = await Deno.readTextFile(new URL("src/deps/ioredis.ts", ROOT));
  const pinned = shim.match(/from "(npm:ioredis@[^"]+)"/)?.[1];
  assert.ok(pinned, "src/deps/ioredis.ts does not import npm:ioredis@<version>");
  assert.equal(bench.imports.ioredis, pinned);
});

Deno.test("the lint task checks the documentation of every entry point", () => {
  const lint = config.tasks.lint as string;
  const docLint = lint.slice(lint.indexOf("deno doc --lint"));
  assert.ok(docLint.startsWith("deno doc --lint"), lint);
  for (const entry of ENTRIES) assert.ok(docLint.split(/\s+/).includes(entry), entry);
  assert.ok(ENTRIES.includes("workers/cli.ts"));
});

Deno.test("deno doc of every entry point prints no warning", async () => {
  await Promise.all(ENTRIES.map(async (entry) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["doc", entry],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `${entry}: ${stderr}`);
    assert.doesNotMatch(stderr, /Warning|Failed resolving/, `deno doc ${entry}:\n${stderr}`);
  }));
});
