/**
 * Code only from the operator, for containers: a task in a container that calls `ctx.next()`
 * with a task object naming a `data:` module or a local file cannot make the host import it
 * (the host resolves names in its own registry). Needs podman (see `tests/docker/engine.ts`).
 *
 * @module
 */
import { dockerHandler } from "../../src/handlers/docker/mod.ts";
import { containerTest, IMAGE } from "../docker/engine.ts";
import { assertNoImportThroughNext } from "./helpers.ts";

containerTest(
  "a container task cannot make the host import a module through ctx.next",
  async (socketPath) => {
    await using docker = dockerHandler({ image: IMAGE, socketPath });
    await assertNoImportThroughNext(docker);
  },
);
