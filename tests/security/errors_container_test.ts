/**
 * A run never crashes its process, for containers: whatever a task throws or returns in its
 * container — a revoked Proxy, an Error whose getters throw, cyclic causes, a 20 MB message, an
 * object whose `toJSON` throws, a function — the run settles with a clear error. Needs podman
 * (see `tests/docker/engine.ts`).
 *
 * @module
 */
import { dockerHandler } from "../../src/handlers/docker/mod.ts";
import { containerTest, IMAGE } from "../docker/engine.ts";
import { HOSTILE_KINDS } from "./fixtures/hostile_tasks.ts";
import { assertSettles } from "./helpers.ts";

containerTest(
  "a container run settles with a clear error for every hostile value",
  async (socketPath) => {
    await using docker = dockerHandler({ image: IMAGE, socketPath });
    for (const kind of HOSTILE_KINDS) await assertSettles(kind, { handlers: { direct: docker } });
  },
);
