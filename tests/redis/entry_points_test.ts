import assert from "node:assert/strict";

async function graph(entry: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(`../../${entry}`, import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  // The module graph only (the npm section lists every package of the lock file).
  return JSON.stringify(JSON.parse(new TextDecoder().decode(out.stdout)).modules);
}

Deno.test("mod.ts does not load ioredis; the redis and worker entry points do", async () => {
  assert.doesNotMatch(await graph("mod.ts"), /ioredis/);
  assert.match(await graph("src/redis/mod.ts"), /ioredis@5/);
  assert.match(await graph("src/worker/mod.ts"), /ioredis@5/);
  const deno = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(deno.exports["./redis"], "./src/redis/mod.ts");
  assert.equal(deno.exports["./worker"], "./src/worker/mod.ts");
});
