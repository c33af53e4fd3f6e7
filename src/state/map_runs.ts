/**
 * The active maps of a run, by the node each completes: opening one (its input checked), which
 * may start an item next (oldest map first), and the maps as plain data and back.
 *
 * @module
 */
import type { PlanNode } from "../graph/plan.ts";
import type { Graph } from "../graph/graph.ts";
import { getTask, type Task } from "../graph/task.ts";
import { policyFromSpec } from "../graph/policies.ts";
import { WorkflowError } from "../errors.ts";
import { MapRun, type MapSettings } from "./map_run.ts";
import type { MapRunData } from "./run_state_data.ts";

/** The active maps of one run. */
export class MapRuns {
  readonly #active = new Map<PlanNode, MapRun>();
  /** Maps that may have an item to start, oldest first. */
  #room: MapRun[] = [];

  /** Whether an item can start now. */
  get hasRoom(): boolean {
    for (const run of this.#room) if (run.hasRoom) return true;
    return false;
  }

  /** The active maps, oldest first. */
  get active(): Iterable<MapRun> {
    return this.#active.values();
  }

  /**
   * The active map that completes a node.
   *
   * @param owner The node.
   * @returns The map, if one is active.
   */
  get(owner: PlanNode): MapRun | undefined {
    return this.#active.get(owner);
  }

  /**
   * Opens a map.
   *
   * @param owner The node it completes.
   * @param node The node its items run as.
   * @param task The task.
   * @param input What the map received.
   * @param cycle The owner's execution count.
   * @param settings Policy and bound.
   * @returns The map.
   * @throws {TypeError} When the input is not an array, or the owner's map is still running.
   * @throws {RangeError} When `atLeast(n)` asks for more items than there are.
   */
  open(
    owner: PlanNode,
    node: PlanNode,
    task: Task,
    input: unknown,
    cycle: number,
    settings: MapSettings,
  ): MapRun {
    const what = owner === node
      ? `map "${owner.id}"`
      : `ctx.map() of task "${owner.id}" over "${task.name}"`;
    if (this.#active.has(owner)) {
      throw new WorkflowError(
        `Cannot start ${what}: it is still running from an earlier activation`,
        {
          code: "MAP_BUSY",
        },
      );
    }
    if (!Array.isArray(input)) {
      throw new TypeError(
        `Cannot start ${what}: its input must be an array, got ${describe(input)}`,
      );
    }
    const spec = settings.policy?.spec;
    if (spec?.type === "atLeast" && spec.n > input.length) {
      throw new RangeError(
        `Cannot apply atLeast(${spec.n}) to ${what}: it has only ${input.length} item(s)`,
      );
    }
    const run = new MapRun(owner, node, task, input, cycle, settings);
    this.add(run);
    return run;
  }

  /**
   * Adds a map (new or restored).
   *
   * @param run The map.
   */
  add(run: MapRun): void {
    this.#active.set(run.owner, run);
    this.#room.push(run);
  }

  /**
   * Removes a map (settled, or cancelled with its group).
   *
   * @param run The map.
   */
  delete(run: MapRun): void {
    if (this.#active.get(run.owner) !== run) return;
    this.#active.delete(run.owner);
    this.#room = this.#room.filter((r) => r !== run);
  }

  /**
   * Starts the next item of the oldest map that has room.
   *
   * @returns The map (its `current` is the item started), or `undefined`.
   */
  next(): MapRun | undefined {
    const room = this.#room;
    for (let k = 0; k < room.length; k++) {
      if (room[k].start()) return room[k];
    }
    return undefined;
  }

  /**
   * The active maps as data, by owner id.
   *
   * @returns Plain data.
   */
  toData(): Record<string, MapRunData> {
    const out: Record<string, MapRunData> = {};
    for (const [owner, run] of this.#active) out[owner.id] = run.toData();
    return out;
  }

  /**
   * Restores saved maps.
   *
   * @param data Saved maps by owner id.
   * @param graph The flow's graph.
   * @param nodeOf Finds a node by id.
   * @throws {WorkflowError} When a saved map names a node or task the run does not have.
   */
  restore(
    data: Record<string, MapRunData>,
    graph: Graph,
    nodeOf: (id: string) => PlanNode | undefined,
  ): void {
    for (const [ownerId, d] of Object.entries(data)) {
      const owner = nodeOf(ownerId);
      const node = nodeOf(d.node);
      const task = node?.node.task ?? getTask(d.task);
      if (!owner || !node || !task || task.name !== d.task) {
        throw new WorkflowError(
          `Cannot restore run: the map of "${ownerId}" names a node or task the flow does not have ("${d.node}", "${d.task}")`,
        );
      }
      checkIndices(ownerId, d);
      const spec = owner.node.kind === "map" && owner === node
        ? graph.nodes.get(owner.id)?.map
        : undefined;
      const settings: MapSettings = spec
        ? { policy: spec.policy, concurrency: spec.concurrency }
        : {
          policy: d.policy ? policyFromSpec(d.policy) : undefined,
          concurrency: d.concurrency,
          data: { policy: d.policy, concurrency: d.concurrency },
        };
      this.add(new MapRun(owner, node, task, d.items, d.cycle, settings, d));
    }
  }
}

/** Finished items are named by index below the item count, each once. */
function checkIndices(ownerId: string, d: MapRunData): void {
  const n = Array.isArray(d.items) ? d.items.length : -1;
  const seen = new Set<string>();
  for (const key of [...Object.keys(d.results ?? {}), ...Object.keys(d.failed ?? {})]) {
    if (n < 0 || !/^(0|[1-9][0-9]*)$/.test(key) || Number(key) >= n || seen.has(key)) {
      throw new WorkflowError(
        `Cannot restore run: the map of "${ownerId}" names item ${
          JSON.stringify(key)
        }, which is not a single index below its ${Math.max(n, 0)} item(s)`,
      );
    }
    seen.add(key);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "object";
}
