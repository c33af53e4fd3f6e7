/**
 * `registerFlow()`: names a flow so that other processes (orchestrators, the server) can start
 * and continue its runs by name.
 *
 * @module
 */
import { Flow } from "./flow.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
const flows = new Map<string, Flow>();

/**
 * Registers a flow under a name, process-wide. Registering the same name again with the same
 * graph returns the registered flow (a module evaluated twice); with another graph it is an
 * error.
 *
 * @param name The flow's name: `[A-Za-z_][A-Za-z0-9_.-]*`, up to 128 characters.
 * @param flow The flow.
 * @returns The named flow (run it like any flow; with `run({ store })` its runs are recorded
 * under this name and its graph version).
 * @throws {TypeError} When the name is malformed or another flow has it.
 *
 * @example Registering a flow
 * ```ts
 * import { flow, registerFlow, task } from "@graflow/graflow";
 * task("doc_reg_extract", () => [1, 2]);
 * const etl = registerFlow("doc_reg_etl", flow`doc_reg_extract`);
 * if (etl.name !== "doc_reg_etl") throw new Error("unexpected");
 * ```
 */
export function registerFlow(name: string, flow: Flow): Flow {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TypeError(
      `Cannot register flow ${
        JSON.stringify(name)
      }: a flow name must match [A-Za-z_][A-Za-z0-9_.-]* (1-128 characters)`,
    );
  }
  if (!(flow instanceof Flow)) {
    throw new TypeError(`Cannot register flow "${name}": expected a Flow (from the flow tag)`);
  }
  const existing = flows.get(name);
  if (existing) {
    if (existing.version === flow.version) return existing;
    throw new TypeError(
      `Cannot register flow "${name}": another flow (version ${existing.version}) has this name; this one is version ${flow.version}`,
    );
  }
  const named = new Flow(flow.graph, name);
  flows.set(name, named);
  return named;
}

/**
 * A registered flow by name.
 *
 * @param name The flow's name.
 * @returns The flow, or `undefined`.
 */
export function getFlow(name: string): Flow | undefined {
  return flows.get(name);
}

/**
 * Every registered flow, by name.
 *
 * @returns The flows.
 */
export function registeredFlows(): Flow[] {
  return [...flows.values()];
}
