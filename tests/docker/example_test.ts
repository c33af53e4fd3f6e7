/**
 * Runs examples/docker_multi_image.ts as a user would (a separate process that starts its own
 * podman service) and checks what it prints.
 *
 * @module
 */
import assert from "assert";
import { containerTest, ROOT } from "./engine.ts";

containerTest("examples/docker_multi_image.ts runs tasks in two images in one flow", async () => {
  const env = Deno.env.toObject();
  delete env.DOCKER_HOST; // the example starts its own podman service
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "examples/docker_multi_image.ts"],
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `exited with ${code}:\n${err}\n${out}`);
  assert.equal(err, "");
  assert.match(out, /^Engine: a private podman service on unix:\/\/\/.+\/podman\.sock$/m);
  assert.match(out, /^mean \d+\.\d, range \d+\.\.\d+$/m);
  assert.match(out, /^ {2}stats +handler analysis +image role \(none\) +uid 65534, network lo$/m);
  assert.match(
    out,
    /^ {2}histogram +handler analysis +image role \(none\) +uid 65534, network lo$/m,
  );
  assert.match(
    out,
    /^ {2}report +handler reporting +image role reporting +uid 65534, network lo$/m,
  );
  assert.match(out, /^Containers that used the channel: 3$/m);
  assert.match(
    out,
    /^Run completed in \d+ ms: mi_prepare > mi_(histogram|stats) > mi_(stats|histogram) > mi_report > mi_publish$/m,
  );
});
