/**
 * The checkpoint file format: the run state and the flow's graph (by task names and module
 * URLs) as JSON, and back.
 *
 * @module
 */
import { CheckpointError, WorkflowError } from "../errors.ts";
import { type GroupPolicy, policyFromSpec, type PolicySpec } from "../graph/policies.ts";
import {
  BARRIER,
  Graph,
  type GraphNode,
  type GroupExecutor,
  type GroupMember,
  type GroupSpec,
} from "../graph/graph.ts";
import { getTask, type Task } from "../graph/task.ts";
import { checkOrThrow, stateFileCheck } from "./state_check.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import { decodeStateData, encodeStateData } from "../state/state_codec.ts";

/**
 * Version of the files this code writes. Version 2: camelCase field names, tasks added at run
 * time by name only. Files of another version are refused with a `CheckpointError`.
 */
export const SCHEMA_VERSION = 2;

/** The flow's graph as JSON. */
export interface FlowJson {
  /** Nodes in order: tasks by name and module URL, maps, group forks and barriers. */
  nodes: {
    id: string;
    kind: GraphNode["kind"];
    module?: string;
    group?: string;
    parent?: { group: string; member: string };
    /** For map nodes: the task run per item, its policy and bound. */
    map?: {
      task: string;
      policy?: PolicySpec | { type: "custom"; label?: string };
      concurrency?: number;
      named: boolean;
    };
  }[];
  /** Edges `[from, to]`. */
  edges: [string, string][];
  /** Groups with members, policy (as a spec; `custom` for user functions) and executor. */
  groups: {
    id: string;
    members: GroupMember[];
    policy?: PolicySpec | { type: "custom"; label?: string };
    executor?: GroupExecutor;
    named: boolean;
  }[];
  /** Start nodes of the run. */
  starts: string[];
}

/** Contents of `<base>.state.json`. */
export interface CheckpointState {
  /** Format version. */
  schemaVersion: number;
  /** The run id. */
  runId: string;
  /** The run state; task inputs and results are codec trees. */
  state: RunStateData;
  /** The graph. */
  flow: FlowJson;
  /** Options of the run worth keeping across a resume. */
  options: {
    maxSteps?: number;
    executor?: GroupExecutor;
    checkpointDir?: string;
    keepCheckpoints?: number;
    /** W3C trace context of the run's first span (a resumed run's span links to it). */
    trace?: { traceparent: string; tracestate?: string };
  };
}

/**
 * Describes a graph as JSON.
 *
 * @param graph The graph.
 * @param starts The run's start nodes.
 * @returns The JSON form.
 */
export function graphToJson(graph: Graph, starts: string[]): FlowJson {
  return {
    nodes: [...graph.nodes.values()].map((n) => ({
      id: n.id,
      kind: n.kind,
      ...(n.task?.module ? { module: n.task.module } : {}),
      ...(n.group ? { group: n.group } : {}),
      ...(n.parent ? { parent: { ...n.parent } } : {}),
      ...(n.map
        ? {
          map: {
            task: n.task!.name,
            ...(n.map.policy ? { policy: policyJson(n.map.policy) } : {}),
            ...(n.map.concurrency !== undefined && n.map.concurrency !== Infinity
              ? { concurrency: n.map.concurrency }
              : {}),
            named: n.map.named,
          },
        }
        : {}),
    })),
    edges: graph.edges(),
    groups: [...graph.groups.values()].map((g) => ({
      id: g.id,
      members: g.members.map((m) => ({ id: m.id, entries: [...m.entries], exits: [...m.exits] })),
      ...(g.policy ? { policy: policyJson(g.policy) } : {}),
      ...(g.executor ? { executor: g.executor } : {}),
      named: g.named,
    })),
    starts,
  };
}

/**
 * Rebuilds a graph from JSON, finding tasks by name in the registry (nothing is imported
 * because a file says so: import the modules that define the tasks first).
 *
 * @param json The JSON form.
 * @param file The state file (for errors).
 * @param flowGraph The graph of a flow given to `resume` (its custom policies are reused).
 * @returns The graph.
 * @throws {CheckpointError} When a task is not registered (naming it and the module that
 * defined it) or a group has a custom policy and no flow was given.
 */
export function graphFromJson(
  json: FlowJson,
  file: string,
  flowGraph?: Graph,
): Graph {
  checkGraphRefs(json, file);
  const graph = new Graph();
  for (const n of json.nodes) {
    if (n.kind === "task") {
      graph.addNode({ id: n.id, kind: "task", task: findTask(n.id, n.module, file) });
    } else if (n.kind === "map") {
      const m = n.map!;
      graph.addNode({
        id: n.id,
        kind: "map",
        task: findTask(m.task, n.module, file),
        map: {
          policy: rebuildPolicy(
            m.policy,
            () => flowGraph?.nodes.get(n.id)?.map?.policy,
            `map "${n.id}"`,
            file,
          ),
          ...(m.concurrency !== undefined ? { concurrency: m.concurrency } : {}),
          named: m.named,
        },
      });
    } else graph.addNode({ id: n.id, kind: n.kind, group: n.group });
  }
  for (const n of json.nodes) {
    if (n.parent) graph.nodes.get(n.id)!.parent = { ...n.parent };
  }
  for (const g of json.groups) {
    const policy: GroupSpec["policy"] = rebuildPolicy(
      g.policy,
      () => flowGraph?.groups.get(g.id)?.policy,
      `group "${g.id}"`,
      file,
    );
    graph.groups.set(g.id, {
      id: g.id,
      members: g.members,
      policy,
      executor: g.executor,
      named: g.named,
    });
  }
  for (const [from, to] of json.edges) graph.addEdge(from, to);
  return graph;
}

/** A policy as JSON: its spec, or `custom` for user functions. */
function policyJson(policy: GroupPolicy): PolicySpec | { type: "custom"; label?: string } {
  return policy.spec ?? { type: "custom", label: policy.label };
}

/** Rebuilds a policy from JSON (a custom one is taken from the flow given to `resume`). */
function rebuildPolicy(
  json: PolicySpec | { type: "custom"; label?: string } | undefined,
  custom: () => GroupPolicy | undefined,
  what: string,
  file: string,
): GroupPolicy | undefined {
  if (!json) return undefined;
  if (json.type === "custom") {
    const policy = custom();
    if (!policy) {
      throw new CheckpointError(
        file,
        `${what} uses a custom policy, which cannot be stored: pass the flow to resume() as { flow }`,
      );
    }
    return policy;
  }
  try {
    return policyFromSpec(json as PolicySpec);
  } catch (error) {
    throw new CheckpointError(
      file,
      `stateFile.flow ${what} has a policy that cannot be rebuilt: ${(error as Error).message}`,
    );
  }
}

/** Every id the flow's JSON refers to exists, once. */
function checkGraphRefs(json: FlowJson, file: string): void {
  const bad = (what: string): never => {
    throw new CheckpointError(file, `stateFile.flow ${what}`);
  };
  const nodes = new Map<string, FlowJson["nodes"][number]>();
  for (const n of json.nodes) {
    if (nodes.has(n.id)) bad(`has two nodes "${n.id}"`);
    nodes.set(n.id, n);
  }
  const groups = new Map(json.groups.map((g) => [g.id, g]));
  if (groups.size !== json.groups.length) bad("has two groups with the same id");
  for (const n of json.nodes) {
    if (n.kind === "map") {
      if (!n.map) bad(`map node "${n.id}" has no map`);
    } else if (n.kind !== "task") {
      const g = n.group === undefined ? undefined : groups.get(n.group);
      if (!g) bad(`node "${n.id}" belongs to an unknown group "${n.group}"`);
      if (n.id !== (n.kind === "fork" ? g!.id : g!.id + BARRIER)) {
        bad(`node "${n.id}" is not the ${n.kind} of group "${g!.id}"`);
      }
    } else if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(n.id)) {
      bad(`task node "${n.id}" is not a task name`);
    }
    if (n.parent) {
      const g = groups.get(n.parent.group);
      if (!g) bad(`node "${n.id}" is a member of an unknown group "${n.parent.group}"`);
      if (!g!.members.some((m) => m.id === n.parent!.member)) {
        bad(`node "${n.id}" names an unknown member "${n.parent.member}" of "${g!.id}"`);
      }
    }
  }
  for (const g of json.groups) {
    if (!nodes.has(g.id) || !nodes.has(g.id + BARRIER)) {
      bad(`group "${g.id}" has no fork or barrier`);
    }
    for (const m of g.members) {
      for (const id of [...m.entries, ...m.exits]) {
        if (!nodes.has(id)) bad(`group "${g.id}" member "${m.id}" names an unknown node "${id}"`);
      }
    }
  }
  for (const [from, to] of json.edges) {
    if (!nodes.has(from) || !nodes.has(to)) {
      bad(`has an edge to or from an unknown node: ${from} -> ${to}`);
    }
  }
  for (const s of json.starts) if (!nodes.has(s)) bad(`start node "${s}" is not in the flow`);
}

/**
 * Finds a task by name in the registry.
 *
 * @param name Task name.
 * @param module The module that defined it when the file was written (for the message).
 * @param file The checkpoint file (for errors).
 * @returns The task.
 * @throws {CheckpointError} Naming the task and its module when it is not registered.
 */
export function findTask(name: string, module: string | undefined, file: string): Task {
  const found = getTask(name);
  if (found) return found;
  throw new CheckpointError(
    file,
    `task "${name}" is not registered in this process: import the module that defines it first${
      module ? ` (it was defined in ${module})` : ""
    }; a checkpoint never makes Graflow import code`,
  );
}

/**
 * Encodes a run state for the state file.
 *
 * @param state The state.
 * @returns The state with inputs and results as codec trees, errors as records.
 * @throws {WorkflowError} `CHECKPOINT_FAILED` when a result or input cannot be stored faithfully.
 */
export function encodeState(state: RunStateData): RunStateData {
  try {
    return encodeStateData(state, "checkpoint");
  } catch (error) {
    throw new WorkflowError(
      `Cannot write checkpoint of run "${state.runId}": ${(error as Error).message}`,
      { code: "CHECKPOINT_FAILED", cause: error },
    );
  }
}

/**
 * Decodes a run state read from a state file.
 *
 * @param state The stored state.
 * @param file The file (for errors).
 * @returns The state with values restored.
 * @throws {CheckpointError} Naming the field whose value cannot be decoded.
 */
export function decodeState(state: RunStateData, file: string): RunStateData {
  return decodeStateData(
    state,
    (field, error) =>
      new CheckpointError(
        file,
        `stateFile.state.${field} cannot be decoded: ${(error as Error).message}`,
        error,
      ),
  );
}

/**
 * Checks a parsed state file field by field.
 *
 * @param value The parsed JSON.
 * @param file The file, for errors.
 * @returns The state file contents.
 * @throws {CheckpointError} Naming the first field that is missing or malformed, or when the
 * schema version is not this code's.
 */
export function checkStateFile(value: unknown, file: string): CheckpointState {
  const v = value as CheckpointState;
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new CheckpointError(file, "not a JSON object");
  }
  checkSchema(v.schemaVersion ?? (v as { schemaVersion?: unknown }).schemaVersion, file);
  checkOrThrow(stateFileCheck, v, "stateFile", file);
  if (v.state.runId !== v.runId) {
    throw new CheckpointError(
      file,
      `stateFile.state.runId "${v.state.runId}" differs from stateFile.runId "${v.runId}"`,
    );
  }
  return v;
}

/**
 * Refuses files written by another schema version.
 *
 * @param version The stored schema version.
 * @param file The file, for errors.
 * @throws {CheckpointError} When the version is not {@linkcode SCHEMA_VERSION}.
 */
export function checkSchema(version: unknown, file: string): void {
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw new CheckpointError(file, `schemaVersion is missing or malformed (${String(version)})`);
  }
  if (version > SCHEMA_VERSION) {
    throw new CheckpointError(
      file,
      `written by a newer schema (version ${version}; this version of Graflow reads version ${SCHEMA_VERSION})`,
    );
  }
  if (version < SCHEMA_VERSION) {
    throw new CheckpointError(
      file,
      `written by an older schema (version ${version}: snake_case fields, tasks by module URL); this version of Graflow reads version ${SCHEMA_VERSION}: resume it with the Graflow version that wrote it`,
    );
  }
}
