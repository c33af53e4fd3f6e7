/**
 * The graph a flow compiles to: task nodes, map nodes (one node that runs its task once per
 * item of its input), and for every parallel group a fork node (its id is the group id) and a
 * barrier node (`<group>/end`) that waits for every member to settle.
 *
 * @module
 */
import type { Task } from "./task.ts";
import type { GroupPolicy } from "./policies.ts";

/** How a map node runs its items. */
export interface MapSpec {
  /** Policy deciding success from the items' outcomes. @default {strict()} */
  readonly policy?: GroupPolicy;
  /** Most items in flight at once. @default {Infinity} */
  readonly concurrency?: number;
  /** True when the id was given by the user (else it is the task's name). */
  readonly named: boolean;
}

/**
 * Where a group's members run: a handler name (`"direct"`, `"worker"`, `"process"`,
 * `"docker"`, a backend's name such as `"redis"`, or one of the run's handlers), or the aliases
 * `"inline"` (= `"direct"`) and `"workers"` (= `"worker"`).
 */
export type GroupExecutor = string;

/** A node: a task, a map over a task, or the fork / barrier of a parallel group. */
export interface GraphNode {
  /** Task name, map id, group id (fork) or `<group>/end` (barrier). */
  readonly id: string;
  /** What the node is. */
  readonly kind: "task" | "fork" | "barrier" | "map";
  /** The task, for task nodes; the task run per item, for map nodes. */
  readonly task?: Task;
  /** How items run, for map nodes. */
  readonly map?: MapSpec;
  /** The group, for fork and barrier nodes. */
  readonly group?: string;
  /** The innermost group this node is a member of, and which member. */
  parent?: { group: string; member: string };
  /** True for nodes added at run time by `ctx.next`. */
  dynamic?: boolean;
}

/** One member of a parallel group: a task, a chain, a nested group or an inlined flow. */
export interface GroupMember {
  /** Member id: its last task (or nested group) id. */
  readonly id: string;
  /** Nodes that start the member. */
  readonly entries: string[];
  /** Nodes whose completion settles the member. */
  readonly exits: string[];
}

/** A parallel group. */
export interface GroupSpec {
  /** Group id (`group_N` unless named). */
  readonly id: string;
  /** Its members. */
  readonly members: GroupMember[];
  /** Policy deciding success once every member settled. */
  readonly policy?: GroupPolicy;
  /** Where members run. */
  readonly executor?: GroupExecutor;
  /** True when the id was given by the user. */
  readonly named: boolean;
}

/** Entries and exits of a built piece of graph. */
export interface Fragment {
  /** Nodes that start the piece. */
  entries: string[];
  /** Nodes that end the piece. */
  exits: string[];
}

/** Suffix of barrier node ids. */
export const BARRIER = "/end";

/** A mutable graph; {@linkcode Flow} owns one and never changes it after building. */
export class Graph {
  /** Nodes by id, in insertion order. */
  readonly nodes: Map<string, GraphNode> = new Map();
  /** Groups by id. */
  readonly groups: Map<string, GroupSpec> = new Map();
  readonly #out = new Map<string, string[]>();
  readonly #in = new Map<string, string[]>();
  readonly #edgeKeys = new Set<string>();
  #autoGroup = 0;

  /**
   * Adds a task node (or returns the existing node of that name).
   *
   * @param t The task.
   * @returns The node id.
   * @throws {TypeError} When another node already uses the name.
   */
  addTask(t: Task): string {
    const existing = this.nodes.get(t.name);
    if (existing) {
      if (existing.kind !== "task" || existing.task !== t) {
        throw new TypeError(
          `Cannot add task "${t.name}": the graph already has a ${existing.kind} node with this id`,
        );
      }
      return t.name;
    }
    if (this.groups.has(t.name)) {
      throw new TypeError(`Cannot add task "${t.name}": a group has this id`);
    }
    this.#put({ id: t.name, kind: "task", task: t });
    return t.name;
  }

  /**
   * Adds a map node (or returns the existing one when `spec` is the same).
   *
   * @param id The node id.
   * @param t The task run per item.
   * @param spec Policy, concurrency.
   * @returns The node id.
   * @throws {TypeError} When another node already uses the id.
   */
  addMap(id: string, t: Task, spec: MapSpec): string {
    const existing = this.nodes.get(id);
    if (existing) {
      if (existing.kind === "map" && existing.task === t && existing.map === spec) return id;
      throw new TypeError(
        `Cannot add map "${id}": the flow already has a ${
          existing.kind === "map" ? "different map" : `${existing.kind} node`
        } with this id; give the map its own name: map(${t.name}, { name: "…" })`,
      );
    }
    if (this.groups.has(id)) throw new TypeError(`Cannot add map "${id}": a group has this id`);
    this.#put({ id, kind: "map", task: t, map: spec });
    return id;
  }

  /**
   * A fresh `group_N` id.
   *
   * @returns A fresh `group_N` id.
   */
  nextGroupId(): string {
    let id: string;
    do id = `group_${++this.#autoGroup}`; while (this.groups.has(id) || this.nodes.has(id));
    return id;
  }

  /**
   * Adds a group: its fork and barrier nodes, and marks members' nodes as belonging to it.
   *
   * @param spec The group.
   * @param memberNodes For each member, every node id it contains (to set `parent`).
   * @returns The fragment `{ entries: [fork], exits: [barrier] }`.
   */
  addGroup(spec: GroupSpec, memberNodes: string[][]): Fragment {
    if (this.groups.has(spec.id) || this.nodes.has(spec.id)) {
      throw new TypeError(`Cannot add group "${spec.id}": the id is already used in this flow`);
    }
    const ids = new Set<string>();
    for (const m of spec.members) {
      if (ids.has(m.id)) {
        throw new TypeError(`Cannot build group "${spec.id}": "${m.id}" ends two of its members`);
      }
      ids.add(m.id);
    }
    this.groups.set(spec.id, spec);
    this.#put({ id: spec.id, kind: "fork", group: spec.id });
    const end = spec.id + BARRIER;
    this.#put({ id: end, kind: "barrier", group: spec.id });
    spec.members.forEach((m, i) => {
      const inMember = new Set(memberNodes[i]);
      for (const id of memberNodes[i]) {
        const node = this.nodes.get(id)!;
        if (node.parent) {
          if (node.parent.group === spec.id && node.parent.member === m.id) continue;
          if (inMember.has(node.parent.group)) continue; // inside a nested group of this member
          throw new TypeError(
            `Cannot build group "${spec.id}": "${id}" is already a member of ${
              node.parent.group === spec.id
                ? "another member of this group"
                : `group "${node.parent.group}"`
            }`,
          );
        }
        node.parent = { group: spec.id, member: m.id };
      }
      for (const entry of m.entries) this.addEdge(spec.id, entry);
      for (const exit of m.exits) this.addEdge(exit, end);
    });
    return { entries: [spec.id], exits: [end] };
  }

  /**
   * Adds an edge unless it exists.
   *
   * @param from Source node id.
   * @param to Target node id.
   */
  addEdge(from: string, to: string): void {
    const key = from + "\u0000" + to;
    if (this.#edgeKeys.has(key)) return;
    this.#edgeKeys.add(key);
    this.#out.get(from)!.push(to);
    this.#in.get(to)!.push(from);
  }

  /**
   * Successor ids of `id`.
   *
   * @returns Successor ids of `id`.
   */
  successors(id: string): readonly string[] {
    return this.#out.get(id) ?? [];
  }

  /**
   * Predecessor ids of `id`.
   *
   * @returns Predecessor ids of `id`.
   */
  predecessors(id: string): readonly string[] {
    return this.#in.get(id) ?? [];
  }

  /**
   * Every edge as `[from, to]`, in insertion order of their sources.
   *
   * @returns Every edge as `[from, to]`, in insertion order of their sources.
   */
  edges(): [string, string][] {
    const list: [string, string][] = [];
    for (const [from, tos] of this.#out) for (const to of tos) list.push([from, to]);
    return list;
  }

  /** Number of edges. */
  get edgeCount(): number {
    return this.#edgeKeys.size;
  }

  /**
   * Nodes without predecessors, in insertion order.
   *
   * @returns Nodes without predecessors, in insertion order.
   */
  roots(): string[] {
    const roots: string[] = [];
    for (const [id, node] of this.nodes) {
      if (node.parent) continue;
      if (this.#in.get(id)!.length === 0) roots.push(id);
    }
    return roots;
  }

  /**
   * Task and group nodes without successors outside their group, in insertion order.
   *
   * @returns Task and group nodes without successors outside their group, in insertion order.
   */
  sinks(): string[] {
    const sinks: string[] = [];
    for (const [id, node] of this.nodes) {
      if (node.parent || node.kind === "fork") continue;
      if (this.#out.get(id)!.length === 0) sinks.push(id);
    }
    return sinks;
  }

  /**
   * Copies every node, edge and group of `other` into this graph (sub-flow inlining); automatic
   * group ids are renumbered so they do not clash.
   *
   * @param other The sub-flow graph.
   * @returns The sub-flow's fragment and the ids of every node copied.
   */
  inline(other: Graph): Fragment & { nodes: string[] } {
    const rename = new Map<string, string>();
    const mapId = (id: string): string => {
      const node = other.nodes.get(id)!;
      if (node.kind === "task" || node.kind === "map") return id;
      const gid = rename.get(node.group!) ?? node.group!;
      return node.kind === "fork" ? gid : gid + BARRIER;
    };
    for (const g of other.groups.values()) {
      rename.set(g.id, g.named ? g.id : this.nextGroupId());
    }
    const copied: string[] = [];
    for (const node of other.nodes.values()) {
      const id = mapId(node.id);
      if (node.kind === "task") {
        this.addTask(node.task!);
      } else if (node.kind === "map") {
        this.addMap(id, node.task!, node.map!);
      } else {
        if (this.nodes.has(id)) {
          throw new TypeError(`Cannot inline flow: group "${id}" already exists in this flow`);
        }
        this.#put({ id, kind: node.kind, group: rename.get(node.group!) });
      }
      copied.push(id);
    }
    for (const g of other.groups.values()) {
      const id = rename.get(g.id)!;
      this.groups.set(id, {
        ...g,
        id,
        members: g.members.map((m) => ({
          id: other.nodes.get(m.id) ? mapId(m.id) : m.id,
          entries: m.entries.map(mapId),
          exits: m.exits.map(mapId),
        })),
      });
    }
    for (const node of other.nodes.values()) {
      if (!node.parent) continue;
      const target = this.nodes.get(mapId(node.id))!;
      const group = rename.get(node.parent.group)!;
      const memberNode = other.nodes.get(node.parent.member);
      const member = memberNode ? mapId(node.parent.member) : node.parent.member;
      if (target.parent && (target.parent.group !== group || target.parent.member !== member)) {
        throw new TypeError(
          `Cannot build group "${group}": "${target.id}" is already a member of group "${target.parent.group}"`,
        );
      }
      target.parent = { group, member };
    }
    for (const [from, to] of other.edges()) this.addEdge(mapId(from), mapId(to));
    return { entries: other.roots().map(mapId), exits: other.sinks().map(mapId), nodes: copied };
  }

  /**
   * Adds a node as is (used when a graph is rebuilt from a checkpoint).
   *
   * @param node The node.
   */
  addNode(node: GraphNode): void {
    this.#put(node);
  }

  #put(node: GraphNode): void {
    this.nodes.set(node.id, node);
    this.#out.set(node.id, []);
    this.#in.set(node.id, []);
  }
}
