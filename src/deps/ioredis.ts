/**
 * `ioredis`, as this repository sees it: the real client at run time, typed by `ioredis.d.ts`
 * (the part of its API that `src/redis/`, `src/worker/` and the tests use). The import map of
 * `deno.json` maps the bare specifier `ioredis` here; this module pins the version.
 *
 * Why: ioredis's own declarations reference Node's types (`/// <reference types="node" />`),
 * which pulled `@types/node` into the type graph of the `./redis` and `./worker` entry points,
 * and `deno doc` printed about 60 "Failed resolving types" warnings for them (`deno_graph`
 * resolves the bare path references of `@types/node`'s `index.d.ts` as package names,
 * denoland/deno#36751). A command that the code starts using goes into `ioredis.d.ts` (one line,
 * as ioredis declares it, without the callback), or through `call(command, ...args)`.
 *
 * @module
 */
// @ts-types="./ioredis.d.ts"
export { Redis } from "npm:ioredis@5.9.3";
export type {
  ChainableCommander,
  RedisArg,
  RedisKey,
  RedisOptions,
  RedisStatus,
} from "./ioredis.d.ts";
