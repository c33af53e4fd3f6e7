/**
 * Binds a parsed template to tasks and builds its graph.
 *
 * @module
 */
import type { Ast, Program } from "./parser.ts";
import { FlowSyntaxError } from "./flow_syntax_error.ts";
import {
  BARRIER,
  type Fragment,
  Graph,
  type GroupExecutor,
  type GroupMember,
} from "../graph/graph.ts";
import { getTask, registeredTaskNames, Task } from "../graph/task.ts";
import type { Flow } from "./flow.ts";
import type { GroupPolicy } from "../graph/policies.ts";
import { MapNode } from "../graph/map.ts";

/** Options of {@linkcode parallel}. */
export interface ParallelOptions {
  /** Group id. @default {"group_N"} */
  name?: string;
  /** Error policy. @default {strict()} */
  policy?: GroupPolicy;
  /**
   * Where members run: a handler name, or `"inline"` / `"workers"` (the `"direct"` / `"worker"`
   * handlers). @default {the run's executor, else its backend, else "direct"}
   */
  executor?: GroupExecutor;
}

/** Anything that has a graph (a `Flow`). */
export interface HasGraph {
  /** The graph. */
  readonly graph: Graph;
}

/** A parallel group description, made by {@linkcode parallel} and interpolated into flows. */
export class Group {
  /** @internal Members: tasks or flows. */
  readonly members: readonly (Task<never, unknown> | HasGraph)[];
  /** Options. */
  readonly options: Readonly<ParallelOptions>;

  /** @internal Use {@linkcode parallel}. */
  constructor(members: (Task<never, unknown> | HasGraph)[], options: ParallelOptions) {
    this.members = Object.freeze([...members]);
    this.options = Object.freeze({ ...options });
  }
}

const GROUP_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Describes a parallel group to interpolate into a flow: `` flow`a >> ${parallel([b, c])} >> d` ``.
 *
 * @param members Tasks or flows (a flow member is inlined as a sub-flow).
 * @param options Name, policy, executor.
 * @returns The group.
 * @throws {TypeError} When there are no members, a member is not a Task or Flow, or an option is
 * malformed.
 *
 * @example A best-effort group
 * ```ts
 * import { bestEffort, flow, parallel, task } from "@graflow/graflow";
 * const a = task("doc_par_a", () => 1);
 * const b = task("doc_par_b", () => { throw new Error("down"); });
 * const merge = task("doc_par_merge", (inputs: Record<string, number>) => Object.keys(inputs));
 * const f = flow`${parallel([a, b], { policy: bestEffort() })} >> ${merge}`;
 * const result = await f.run();
 * if (JSON.stringify(result.output) !== '["doc_par_a"]') throw new Error("unexpected");
 * ```
 */
export function parallel(
  members: (Task<never, unknown> | Flow)[],
  options: ParallelOptions = {},
): Group {
  if (!Array.isArray(members) || members.length === 0) {
    throw new TypeError("Cannot create parallel group: members must be a non-empty array");
  }
  members.forEach((m, i) => {
    if (!(m instanceof Task) && !(m && (m as HasGraph).graph instanceof Graph)) {
      throw new TypeError(
        `Cannot create parallel group: member ${i} is not a Task or Flow (got ${kindOf(m)})`,
      );
    }
  });
  if (options.name !== undefined && !GROUP_NAME.test(options.name)) {
    throw new TypeError(
      `Cannot create parallel group: name must match [A-Za-z_][A-Za-z0-9_.-]*, got ${
        JSON.stringify(options.name)
      }`,
    );
  }
  if (options.policy !== undefined && typeof options.policy !== "function") {
    throw new TypeError(
      `Cannot create parallel group: policy must be a function, got ${kindOf(options.policy)}`,
    );
  }
  if (
    options.executor !== undefined &&
    (typeof options.executor !== "string" || !GROUP_NAME.test(options.executor))
  ) {
    throw new TypeError(
      `Cannot create parallel group: executor must be a handler name such as "inline", "workers" or "redis", got ${
        JSON.stringify(options.executor)
      }`,
    );
  }
  return new Group(members, options);
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "object";
}

interface Built extends Fragment {
  nodes: string[];
}

/**
 * Builds the graph of a program with the interpolated values.
 *
 * @param program The parsed template.
 * @param values The interpolated values.
 * @returns The graph.
 * @throws {FlowSyntaxError} For unknown names, bad interpolations and conflicting structure.
 */
export function buildGraph(program: Program, values: readonly unknown[]): Graph {
  const graph = new Graph();
  const source = program.source;
  const groupCache = new Map<Group, Built>();

  const taskFrag = (t: Task): Built => {
    graph.addTask(t);
    return { entries: [t.name], exits: [t.name], nodes: [t.name] };
  };

  const groupFrag = (members: Built[], opts: ParallelOptions): Built => {
    const id = opts.name ?? graph.nextGroupId();
    const specMembers: GroupMember[] = members.map((m) => ({
      id: m.exits.map((e) => (e.endsWith(BARRIER) ? e.slice(0, -BARRIER.length) : e)).join("+"),
      entries: m.entries,
      exits: m.exits,
    }));
    if (opts.policy?.validate) {
      withPolicyErrors(() => opts.policy!.validate!(specMembers.map((m) => m.id), id));
    }
    const frag = graph.addGroup(
      {
        id,
        members: specMembers,
        policy: opts.policy,
        executor: opts.executor,
        named: !!opts.name,
      },
      members.map((m) => m.nodes),
    );
    return { ...frag, nodes: [id, id + BARRIER, ...members.flatMap((m) => m.nodes)] };
  };

  const compile = (ast: Ast): Built => {
    try {
      return compileNode(ast);
    } catch (error) {
      if (error instanceof FlowSyntaxError || !(error instanceof TypeError)) throw error;
      if ((error as { flowSyntax?: boolean }).flowSyntax === false) throw error;
      throw new FlowSyntaxError(error.message.replace(/^Cannot \w+ /, ""), source, ast.offset, 1);
    }
  };

  const compileNode = (ast: Ast): Built => {
    switch (ast.kind) {
      case "name": {
        const t = getTask(ast.name);
        if (!t) {
          const close = suggest(ast.name, registeredTaskNames());
          throw new FlowSyntaxError(
            `unknown task "${ast.name}"` +
              (close.length ? ` (did you mean ${close.map((n) => `"${n}"`).join(", ")}?)` : ""),
            source,
            ast.offset,
            ast.length,
          );
        }
        return taskFrag(t);
      }
      case "interp": {
        const v = values[ast.index];
        if (v instanceof Task) return taskFrag(v);
        if (v instanceof MapNode) {
          graph.addMap(v.id, v.task, v.spec);
          return { entries: [v.id], exits: [v.id], nodes: [v.id] };
        }
        if (v instanceof Group) {
          const cached = groupCache.get(v);
          if (cached) return cached;
          const members = v.members.map((m) =>
            m instanceof Task ? taskFrag(m as Task) : graph.inline((m as HasGraph).graph)
          );
          const built = groupFrag(members, v.options);
          groupCache.set(v, built);
          return built;
        }
        if (v && (v as HasGraph).graph instanceof Graph) return graph.inline((v as HasGraph).graph);
        throw new FlowSyntaxError(
          `interpolated value is not a Task, Flow, Group or map (got ${kindOf(v)})`,
          source,
          ast.offset,
          ast.length,
        );
      }
      case "seq": {
        const parts = ast.items.map(compile);
        for (let i = 1; i < parts.length; i++) {
          for (const from of parts[i - 1].exits) {
            for (const to of parts[i].entries) graph.addEdge(from, to);
          }
        }
        return {
          entries: parts[0].entries,
          exits: parts[parts.length - 1].exits,
          nodes: parts.flatMap((p) => p.nodes),
        };
      }
      case "par":
        return groupFrag(ast.items.map(compile), {});
    }
  };

  for (const statement of program.statements) compile(statement);
  return graph;
}

function withPolicyErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    // Policy validation errors are the caller's RangeError/TypeError, not syntax errors.
    if (error instanceof TypeError || error instanceof RangeError) {
      Object.defineProperty(error, "flowSyntax", { value: false });
    }
    throw error;
  }
}

/**
 * Close names for a typo, by edit distance.
 *
 * @param name The unknown name.
 * @param known Known names.
 * @returns Up to three close names, closest first.
 */
export function suggest(name: string, known: string[]): string[] {
  const max = Math.max(2, Math.floor(name.length / 3));
  return known
    .map((k) => ({ k, d: distance(name.toLowerCase(), k.toLowerCase()) }))
    .filter((x) => x.d <= max)
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, 3)
    .map((x) => x.k);
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
