/**
 * The checkpoint file format: the run state and the flow's graph (by task names and module
 * URLs) as JSON, and back.
 *
 * @module
 */
import { fromJsonTree, toJsonTree } from "../channels/codec.ts";
import { CheckpointError, WorkflowError } from "../errors.ts";
import { policyFromSpec, type PolicySpec } from "../graph/policies.ts";
import {
  Graph,
  type GraphNode,
  type GroupExecutor,
  type GroupMember,
  type GroupSpec,
} from "../graph/graph.ts";
import { resolveTask, type Task } from "../graph/task.ts";
import type { RunStateData } from "../context/run_state.ts";

/** Version of the files this code writes; newer files are refused. */
export const SCHEMA_VERSION = 1;

/** The flow's graph as JSON. */
export interface FlowJson {
  /** Nodes in order: tasks by name and module URL, group forks and barriers. */
  nodes: {
    id: string;
    kind: GraphNode["kind"];
    module?: string;
    group?: string;
    parent?: { group: string; member: string };
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
  schema_version: number;
  /** The run id. */
  run_id: string;
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
    })),
    edges: graph.edges(),
    groups: [...graph.groups.values()].map((g) => ({
      id: g.id,
      members: g.members.map((m) => ({ id: m.id, entries: [...m.entries], exits: [...m.exits] })),
      ...(g.policy ? { policy: g.policy.spec ?? { type: "custom", label: g.policy.label } } : {}),
      ...(g.executor ? { executor: g.executor } : {}),
      named: g.named,
    })),
    starts,
  };
}

/**
 * Rebuilds a graph from JSON, finding tasks in the registry or by importing their modules.
 *
 * @param json The JSON form.
 * @param file The state file (for errors).
 * @param flowGraph The graph of a flow given to `resume` (its custom policies are reused).
 * @returns The graph.
 * @throws {CheckpointError} When a task cannot be found (naming it and its module URL) or a
 * group has a custom policy and no flow was given.
 */
export async function graphFromJson(
  json: FlowJson,
  file: string,
  flowGraph?: Graph,
): Promise<Graph> {
  const graph = new Graph();
  for (const n of json.nodes) {
    if (n.kind === "task") {
      graph.addNode({ id: n.id, kind: "task", task: await findTask(n.id, n.module, file) });
    } else graph.addNode({ id: n.id, kind: n.kind, group: n.group });
  }
  for (const n of json.nodes) {
    if (n.parent) graph.nodes.get(n.id)!.parent = { ...n.parent };
  }
  for (const g of json.groups) {
    let policy: GroupSpec["policy"];
    if (g.policy?.type === "custom") {
      policy = flowGraph?.groups.get(g.id)?.policy;
      if (!policy) {
        throw new CheckpointError(
          file,
          `group "${g.id}" uses a custom policy, which cannot be stored: pass the flow to resume() as { flow }`,
        );
      }
    } else if (g.policy) policy = policyFromSpec(g.policy);
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

/**
 * Finds a task by name, importing its recorded module when it is not registered.
 *
 * @param name Task name.
 * @param module Recorded module URL.
 * @param file The checkpoint file (for errors).
 * @returns The task.
 * @throws {CheckpointError} Naming the task and module URL when it cannot be found.
 */
export async function findTask(
  name: string,
  module: string | undefined,
  file: string,
): Promise<Task> {
  try {
    return await resolveTask(name, module);
  } catch (error) {
    throw new CheckpointError(
      file,
      `task "${name}" is not registered and could not be loaded from ${
        module ?? "(no module URL recorded)"
      }: ${(error as Error).message}`,
      error,
    );
  }
}

/**
 * Encodes a run state for the state file.
 *
 * @param state The state.
 * @returns The state with inputs and results as codec trees.
 * @throws {WorkflowError} `CHECKPOINT_FAILED` when a result or input cannot be stored faithfully.
 */
export function encodeState(state: RunStateData): RunStateData {
  try {
    return {
      ...state,
      results: toJsonTree(state.results, "checkpoint results") as Record<string, unknown>,
      output: toJsonTree(state.output, "checkpoint output"),
      pending: state.pending.map((p) => ({
        ...p,
        input: toJsonTree(p.input, `checkpoint input of pending task "${p.node}"`),
      })),
      arrivals: toJsonTree(state.arrivals, "checkpoint join inputs") as RunStateData["arrivals"],
      groups: toJsonTree(state.groups, "checkpoint group results") as RunStateData["groups"],
    };
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
 * @returns The state with values restored.
 */
export function decodeState(state: RunStateData): RunStateData {
  return {
    ...state,
    results: fromJsonTree(state.results),
    output: fromJsonTree(state.output),
    pending: state.pending.map((p) => ({ ...p, input: fromJsonTree(p.input) })),
    arrivals: fromJsonTree(state.arrivals),
    groups: fromJsonTree(state.groups),
  };
}

/**
 * Checks the shape of a parsed state file.
 *
 * @param value The parsed JSON.
 * @param file The file, for errors.
 * @returns The state file contents.
 * @throws {CheckpointError} When a field is missing or of the wrong type, or the schema is newer.
 */
export function checkStateFile(value: unknown, file: string): CheckpointState {
  const v = value as CheckpointState;
  if (!v || typeof v !== "object") throw new CheckpointError(file, "not a JSON object");
  checkSchema(v.schema_version, file);
  const s = v.state;
  const bad = (what: string) => {
    throw new CheckpointError(file, `${what} is missing or malformed`);
  };
  if (typeof v.run_id !== "string") bad("run_id");
  if (!s || typeof s !== "object") bad("state");
  if (!Number.isInteger(s.steps)) bad("state.steps");
  if (!Array.isArray(s.completed)) bad("state.completed");
  if (!Array.isArray(s.pending)) bad("state.pending");
  if (!s.results || typeof s.results !== "object") bad("state.results");
  if (!s.cycles || typeof s.cycles !== "object") bad("state.cycles");
  if (!Array.isArray(s.dynamic)) bad("state.dynamic");
  if (!v.flow || !Array.isArray(v.flow.nodes) || !Array.isArray(v.flow.edges)) bad("flow");
  s.arrivals ??= {};
  s.groups ??= {};
  s.trace ??= [];
  s.feedback ??= { requests: {} };
  return v;
}

/**
 * Refuses files written by a newer (or unknown) schema.
 *
 * @param version The stored `schema_version`.
 * @param file The file, for errors.
 * @throws {CheckpointError} When the version is not supported.
 */
export function checkSchema(version: unknown, file: string): void {
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw new CheckpointError(file, `schema_version is missing or malformed (${String(version)})`);
  }
  if (version > SCHEMA_VERSION) {
    throw new CheckpointError(
      file,
      `written by a newer schema (version ${version}; this version of Graflow reads up to ${SCHEMA_VERSION})`,
    );
  }
}
