/**
 * Which modules a worker may import because a queue entry names one (`allowImport`,
 * `--allow-import`). Only the operator decides: by default nothing is imported on demand, and a
 * worker runs only the tasks of the modules it imported at start (`--module`).
 *
 * An allowlist entry is a directory or a file, given as a path or a `file:` URL; it must exist
 * at start. A module named by an entry is allowed only when, after normalisation, it is a file
 * inside an allowed directory (by path segments: `/tasks` does not admit `/tasks-evil`) or an
 * allowed file. Normalisation: parse as a URL; only `file:` URLs are ever eligible (never
 * `data:`, `blob:`, `http(s):`, `npm:`, `jsr:`, `node:`), without query or fragment, without a
 * host; percent-decoding, `..` resolution and symlink resolution (realpath) happen before the
 * check, and what is imported is the resolved file, not the URL as given.
 *
 * @module
 */
import { isAbsolute, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** An allowed directory or file, resolved. */
interface Allowed {
  path: string;
  dir: boolean;
}

/** The verdict on a module URL. */
export type ModuleVerdict = { url: string } | { refused: string };

function resolvePath(spec: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^[a-z]:[\\/]/i.test(spec)) {
    const url = new URL(spec);
    if (url.protocol !== "file:") {
      throw new TypeError(`only file: URLs and paths can be allowed, got ${url.protocol}`);
    }
    return fileURLToPath(url);
  }
  return isAbsolute(spec) ? spec : resolve(Deno.cwd(), spec);
}

/** The modules a worker may import on demand. */
export class ModuleAllowlist {
  readonly #allowed: Allowed[];

  private constructor(allowed: Allowed[]) {
    this.#allowed = allowed;
  }

  /**
   * Resolves the operator's entries.
   *
   * @param entries Directories or files, as paths or `file:` URLs.
   * @returns The allowlist.
   * @throws {TypeError} When an entry is not a path or `file:` URL, or does not exist.
   */
  static async create(entries: readonly string[]): Promise<ModuleAllowlist> {
    const allowed: Allowed[] = [];
    for (const entry of entries) {
      try {
        const real = await Deno.realPath(resolvePath(entry));
        allowed.push({ path: real, dir: (await Deno.stat(real)).isDirectory });
      } catch (error) {
        throw new TypeError(
          `Cannot start worker: allowImport entry ${JSON.stringify(entry)} is not usable: ${
            (error as Error).message
          }`,
        );
      }
    }
    return new ModuleAllowlist(allowed);
  }

  /** Whether anything may be imported on demand. */
  get empty(): boolean {
    return this.#allowed.length === 0;
  }

  /**
   * Decides on a module URL named by a queue entry (untrusted). Never throws, never imports;
   * the reason never quotes the file.
   *
   * @param spec The module URL.
   * @returns The URL of the resolved file to import, or why it is refused.
   */
  async check(spec: unknown): Promise<ModuleVerdict> {
    if (this.#allowed.length === 0) {
      return {
        refused: "this worker imports no module named by a queue entry (allowImport is empty)",
      };
    }
    if (typeof spec !== "string" || spec.length > 4096) return { refused: "it is not a URL" };
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      return { refused: "it is not a URL" };
    }
    if (url.protocol !== "file:") {
      return { refused: `only file: modules can be allowed, not ${url.protocol} ones` };
    }
    if (url.search || url.hash) return { refused: "a module URL may not have a query or fragment" };
    let path: string;
    try {
      path = fileURLToPath(url); // percent-decodes; refuses hosts and encoded separators
    } catch (error) {
      return { refused: (error as Error).message };
    }
    if (path.includes("\0")) return { refused: "its path holds a NUL character" };
    let real: string;
    try {
      real = await Deno.realPath(resolve(path));
      if (!(await Deno.stat(real)).isFile) return { refused: "it is not a file" };
    } catch {
      return { refused: "it does not exist or cannot be resolved" };
    }
    const ok = this.#allowed.some((a) =>
      a.dir
        ? real === a.path || real.startsWith(a.path.endsWith(sep) ? a.path : a.path + sep)
        : real === a.path
    );
    if (!ok) {
      return {
        refused: `it resolves to ${real}, outside the allowed ${
          this.#allowed.map((a) => a.path).join(", ")
        }`,
      };
    }
    return { url: pathToFileURL(real).href };
  }
}
