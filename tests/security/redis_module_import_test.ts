/**
 * Attack: a queue entry names the module its task comes from, and a worker imports it. Only the
 * operator's allowlist may admit a module, compared after URL normalisation, percent-decoding,
 * `..` and symlink resolution, by path segments; nothing else is imported, and a module that
 * fails to import never leaks its text into Redis.
 *
 * @module
 */
import assert from "node:assert/strict";
import { flow, task, TaskFailedError, type WorkflowError } from "../../mod.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { TASKS, WorkerProcess } from "../redis/workers.ts";
import { attacker, entries, NO_REDIS, randomPrefix, RedisServer } from "./redis_helpers.ts";

const MOD = new URL("../../mod.ts", import.meta.url).href;

/** A module that, once imported, leaves a marker file (and defines the task it is asked for). */
function evil(marker: string, name: string): string {
  return `Deno.writeTextFileSync(${JSON.stringify(marker)}, "imported");
import { task } from ${JSON.stringify(MOD)};
task(${JSON.stringify(name)}, () => "evil ran");
`;
}

Deno.test({
  name:
    "A queue entry cannot make a worker import data:, outside, `..`, %2e%2e, sibling or symlinked modules",
  ignore: NO_REDIS,
  async fn() {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "graflow-sec-" }));
    try {
      await Deno.mkdir(`${dir}/tasks`);
      await Deno.mkdir(`${dir}/tasks-evil`);
      const markers = {
        dotdot: `${dir}/marker-dotdot`,
        sibling: `${dir}/marker-sibling`,
        symlink: `${dir}/marker-symlink`,
        data: `${dir}/marker-data`,
        outside: `${dir}/marker-outside`,
      };
      await Deno.writeTextFile(`${dir}/evil.ts`, evil(markers.dotdot, "sec_dotdot"));
      await Deno.writeTextFile(`${dir}/tasks-evil/evil.ts`, evil(markers.sibling, "sec_sibling"));
      await Deno.writeTextFile(`${dir}/linked.ts`, evil(markers.symlink, "sec_symlink"));
      await Deno.symlink(`${dir}/linked.ts`, `${dir}/tasks/link.ts`);
      await Deno.writeTextFile(`${dir}/outside.ts`, evil(markers.outside, "sec_outside"));
      await Deno.writeTextFile(`${dir}/tasks/secret.ts`, "TOP-SECRET-VALUE-42 is not code\n");
      await Deno.writeTextFile(
        `${dir}/tasks/good.ts`,
        `import { task } from ${JSON.stringify(MOD)};\ntask("sec_good", () => "good ran");\n`,
      );
      await using server = await RedisServer.start();
      const prefix = randomPrefix();
      await using worker = new WorkerProcess([
        "--redis",
        server.url(),
        "--prefix",
        prefix,
        "--module",
        TASKS,
        "--allow-import",
        `file://${dir}/tasks`,
      ]);
      await worker.started();
      await using backend = redisBackend({ url: server.url(), prefix });
      const data = `data:text/javascript,Deno.writeTextFileSync(${
        encodeURIComponent(JSON.stringify(markers.data))
      },"x")`;
      const attacks: [string, string, RegExp][] = [
        ["dotdot", `file://${dir}/tasks/../evil.ts`, /may not be imported/],
        ["outside", `file://${dir}/outside.ts`, /may not be imported: it resolves to .*outside/],
        ["data", data, /may not be imported: only file: modules/],
        ["dotdot", `file://${dir}/tasks/%2e%2e/evil.ts`, /may not be imported/],
        ["dotdot", `file://${dir}/tasks/%2E%2E%2Fevil.ts`, /may not be imported/],
        ["sibling", `file://${dir}/tasks-evil/evil.ts`, /may not be imported/],
        ["symlink", `file://${dir}/tasks/link.ts`, /may not be imported: it resolves to .*linked/],
        ["etc", "file:///etc/hostname", /may not be imported/],
        ["secret", `file://${dir}/tasks/secret.ts`, /importing its module .* failed/],
        ["npm", "npm:left-pad@1.3.0", /may not be imported: only file: modules/],
      ];
      for (const [i, [what, module, reason]] of attacks.entries()) {
        const t = task(`sec_${what}_${i}`, () => "local", { module });
        const error = await flow`${t}`.run({ backend }).catch((e) => e);
        const marker = markers[what as keyof typeof markers];
        if (marker) {
          const imported = await Deno.stat(marker).then(() => true, () => false);
          assert.equal(imported, false, `${module} was imported`);
        }
        assert.ok(error instanceof TaskFailedError, `${module}: ${error}`);
        const cause = error.cause as WorkflowError;
        assert.equal(cause.code, "DEAD_LETTERED", `${module}: ${cause.message}`);
        assert.match(cause.message, reason, module);
        assert.doesNotMatch(cause.message, /TOP-SECRET/, "the file's text is not in the reason");
      }
      for (const [what, marker] of Object.entries(markers)) {
        const imported = await Deno.stat(marker).then(() => true, () => false);
        assert.equal(imported, false, `the ${what} module was imported`);
      }
      // Nothing in Redis quotes the file that failed to import.
      await using redis = attacker(server.url());
      const dead = entries(await redis.xrange(`${prefix}:dead`, "-", "+") as [string, string[]][]);
      assert.equal(dead.length, attacks.length);
      assert.ok(dead.every((d) => !d.f.reason.includes("TOP-SECRET")));
      // The operator's allowlist still works for what it admits.
      const good = task("sec_good", () => "local", { module: `file://${dir}/tasks/good.ts` });
      assert.equal((await flow`${good}`.run({ backend })).output, "good ran");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "A worker without an allowlist imports nothing an entry names: unknown task is dead-lettered",
  ignore: NO_REDIS,
  async fn() {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "graflow-sec-" }));
    try {
      const marker = `${dir}/marker`;
      await Deno.writeTextFile(`${dir}/plain.ts`, evil(marker, "sec_plain"));
      await using server = await RedisServer.start();
      const prefix = randomPrefix();
      await using worker = new WorkerProcess([
        "--redis",
        server.url(),
        "--prefix",
        prefix,
        "--module",
        TASKS,
      ]);
      await worker.started();
      await using backend = redisBackend({ url: server.url(), prefix });
      const t = task("sec_plain", () => "local", { module: `file://${dir}/plain.ts` });
      const error = await flow`${t}`.run({ backend }).catch((e) => e);
      assert.equal(await Deno.stat(marker).then(() => true, () => false), false, "imported");
      assert.ok(error instanceof TaskFailedError, `the run gave ${error?.output ?? error}`);
      assert.match(
        (error.cause as Error).message,
        /task "sec_plain" is not registered on worker .*--module.*allowImport is empty/,
      );
      assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
