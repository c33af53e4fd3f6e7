/**
 * Run state data and transitions as JSON (codec trees for values, error records for errors,
 * tasks by name) and back: what checkpoint files and run journals store.
 *
 * @module
 */
import { fromJsonTree, toJsonTree } from "../channels/codec.ts";
import { type ErrorRecord, fromErrorRecord, toErrorRecord } from "../errors.ts";
import type { Directives, MapCall, NextCall } from "../context/directive_recorder.ts";
import type { RunStateData, Stop, Transition } from "./run_state_data.ts";

type Groups = RunStateData["groups"];

function encodeGroups(groups: Groups, label: string): Groups {
  const out: Groups = {};
  for (const [g, members] of Object.entries(groups)) {
    out[g] = {};
    for (const [m, s] of Object.entries(members)) {
      out[g][m] = {
        remaining: s.remaining,
        results: toJsonTree(s.results, `${label} results of group "${g}"`) as Record<
          string,
          unknown
        >,
        settled: s.settled,
        ...(s.failed
          ? { failed: { taskId: s.failed.taskId, error: toErrorRecord(s.failed.error) } }
          : {}),
      };
    }
  }
  return out;
}

function decodeGroups(groups: Groups): Groups {
  const out: Groups = {};
  for (const [g, members] of Object.entries(groups)) {
    out[g] = {};
    for (const [m, s] of Object.entries(members)) {
      out[g][m] = {
        remaining: s.remaining,
        results: fromJsonTree(s.results),
        settled: s.settled,
        ...(s.failed
          ? {
            failed: {
              taskId: s.failed.taskId,
              error: errorOf(s.failed.error, `member "${m}" of group "${g}"`),
            },
          }
          : {}),
      };
    }
  }
  return out;
}

type Maps = NonNullable<RunStateData["maps"]>;

function encodeMaps(maps: Maps, label: string): Maps {
  const out: Maps = {};
  for (const [owner, m] of Object.entries(maps)) {
    const failed: Record<string, unknown> = {};
    for (const [i, error] of Object.entries(m.failed)) failed[i] = toErrorRecord(error);
    out[owner] = {
      ...m,
      items: toJsonTree(m.items, `${label} items of map "${owner}"`) as unknown[],
      results: toJsonTree(m.results, `${label} item results of map "${owner}"`) as Record<
        string,
        unknown
      >,
      failed,
    };
  }
  return out;
}

function decodeMaps(maps: Maps): Maps {
  const out: Maps = {};
  for (const [owner, m] of Object.entries(maps)) {
    const failed: Record<string, unknown> = {};
    for (const [i, record] of Object.entries(m.failed ?? {})) {
      failed[i] = errorOf(record, `map "${owner}" item ${i}`);
    }
    out[owner] = {
      ...m,
      items: fromJsonTree(m.items) as unknown[],
      results: fromJsonTree(m.results) as Record<string, unknown>,
      failed,
    };
  }
  return out;
}

/** An error record back as an error; anything else is refused, naming where it was. */
function errorOf(record: unknown, where: string): Error {
  const r = record as ErrorRecord;
  if (!r || typeof r !== "object" || typeof r.name !== "string" || typeof r.message !== "string") {
    throw new TypeError(`the error of ${where} is not an error record`);
  }
  return fromErrorRecord(r);
}

/**
 * Encodes run state data: values as codec trees, errors as error records.
 *
 * @param state The data.
 * @param label What it is, for errors (e.g. `"checkpoint"`).
 * @returns JSON-safe data.
 * @throws {TypeError} When a value cannot be stored faithfully (naming it).
 */
export function encodeStateData(state: RunStateData, label: string): RunStateData {
  return {
    ...state,
    results: toJsonTree(state.results, `${label} results`) as Record<string, unknown>,
    output: toJsonTree(state.output, `${label} output`),
    pending: state.pending.map((p) => ({
      ...p,
      input: toJsonTree(p.input, `${label} input of pending task "${p.node}"`),
    })),
    ...(state.running
      ? {
        running: state.running.map((r) => ({
          ...r,
          input: toJsonTree(r.input, `${label} input of running task "${r.node}"`),
        })),
      }
      : {}),
    arrivals: toJsonTree(state.arrivals, `${label} join inputs`) as RunStateData["arrivals"],
    groups: encodeGroups(state.groups, label),
    ...(state.maps ? { maps: encodeMaps(state.maps, label) } : {}),
  };
}

/**
 * Decodes run state data made by {@linkcode encodeStateData}.
 *
 * @param state The stored data.
 * @param fail Makes the error for a field that cannot be decoded.
 * @returns The data with values restored.
 */
export function decodeStateData(
  state: RunStateData,
  fail: (field: string, error: unknown) => Error,
): RunStateData {
  const decode = <T>(value: unknown, field: string): T => {
    try {
      return fromJsonTree(value) as T;
    } catch (error) {
      throw fail(field, error);
    }
  };
  let groups: Groups;
  try {
    groups = decodeGroups(state.groups);
  } catch (error) {
    throw fail("groups", error);
  }
  let maps: Maps | undefined;
  try {
    maps = state.maps && decodeMaps(state.maps);
  } catch (error) {
    throw fail("maps", error);
  }
  return {
    ...state,
    results: decode(state.results, "results"),
    output: decode(state.output, "output"),
    pending: state.pending.map((p, i) => ({ ...p, input: decode(p.input, `pending[${i}].input`) })),
    ...(state.running
      ? {
        running: state.running.map((r, i) => ({
          ...r,
          input: decode(r.input, `running[${i}].input`),
        })),
      }
      : {}),
    arrivals: decode(state.arrivals, "arrivals"),
    groups,
    ...(maps ? { maps } : {}),
  };
}

function encodeStop(stop: Stop): unknown {
  return stop.kind === "failed" ? { kind: "failed", error: toErrorRecord(stop.error) } : stop;
}

function decodeStop(stop: Stop): Stop {
  return stop.kind === "failed"
    ? { kind: "failed", error: fromErrorRecord(stop.error as ErrorRecord) }
    : stop;
}

function encodeDirectives(d: Directives, label: string): unknown {
  const out: Record<string, unknown> = {};
  if (d.next) {
    out.next = d.next.map((n: NextCall) => {
      const name = typeof n.task === "string" ? n.task : n.task.name;
      return {
        task: name,
        hasInput: n.hasInput,
        ...(n.hasInput ? { input: toJsonTree(n.input, `${label} input of next "${name}"`) } : {}),
        ...(n.goto !== undefined ? { goto: n.goto } : {}),
      };
    });
  }
  if (d.map) {
    const name = typeof d.map.task === "string" ? d.map.task : d.map.task.name;
    out.map = {
      task: name,
      items: toJsonTree(d.map.items, `${label} items of map() over "${name}"`),
      ...(d.map.policy ? { policy: d.map.policy } : {}),
      ...(d.map.concurrency !== undefined ? { concurrency: d.map.concurrency } : {}),
    };
  }
  if (d.iterate) {
    out.iterate = d.iterate.hasInput
      ? { hasInput: true, input: toJsonTree(d.iterate.input, `${label} iteration input`) }
      : { hasInput: false };
  }
  if (d.terminate) out.terminate = d.terminate;
  if (d.cancel) out.cancel = d.cancel;
  return out;
}

function decodeDirectives(d: Record<string, unknown>): Directives {
  const out: Directives = {};
  const next = d.next as { task: string; hasInput: boolean; input?: unknown; goto?: boolean }[];
  if (next) {
    out.next = next.map((n) => ({
      task: n.task,
      hasInput: n.hasInput,
      input: n.hasInput ? fromJsonTree(n.input) : undefined,
      goto: n.goto,
    }));
  }
  const map = d.map as MapCall | undefined;
  if (map) out.map = { ...map, items: fromJsonTree(map.items) as unknown[] };
  const it = d.iterate as { hasInput: boolean; input?: unknown } | undefined;
  if (it) {
    out.iterate = {
      hasInput: it.hasInput,
      input: it.hasInput ? fromJsonTree(it.input) : undefined,
    };
  }
  if (d.terminate) out.terminate = d.terminate as Directives["terminate"];
  if (d.cancel) out.cancel = d.cancel as Directives["cancel"];
  return out;
}

/**
 * Encodes a transition for a journal: values as codec trees, errors as records, tasks by name
 * (deferred checkpoint requests are not part of the state and are dropped).
 *
 * @param tr The transition.
 * @returns JSON-safe data.
 * @throws {TypeError} When a value cannot be stored faithfully (naming it).
 */
export function encodeTransition(tr: Transition): unknown {
  switch (tr.t) {
    case "begin":
      return { t: "begin", input: toJsonTree(tr.input, "run input") };
    case "ok":
      return {
        t: "ok",
        step: tr.step,
        result: toJsonTree(tr.result, `result of execution ${tr.step}`),
        ...(tr.directives ? { directives: encodeDirectives(tr.directives, "journal") } : {}),
      };
    case "fail":
      return { t: "fail", step: tr.step, error: toErrorRecord(tr.error) };
    case "retry":
      return {
        t: "retry",
        step: tr.step,
        attempt: tr.attempt,
        ...(tr.error !== undefined ? { error: toErrorRecord(tr.error) } : {}),
      };
    case "halt":
      return { t: "halt", stop: encodeStop(tr.stop) };
    default:
      return tr;
  }
}

/**
 * Decodes a transition made by {@linkcode encodeTransition}.
 *
 * @param data The stored transition.
 * @returns The transition.
 */
export function decodeTransition(data: unknown): Transition {
  const tr = data as Transition & Record<string, unknown>;
  switch (tr.t) {
    case "begin":
      return { t: "begin", input: fromJsonTree(tr.input) };
    case "ok":
      return {
        t: "ok",
        step: tr.step,
        result: fromJsonTree(tr.result),
        ...(tr.directives
          ? { directives: decodeDirectives(tr.directives as Record<string, unknown>) }
          : {}),
      };
    case "fail":
      return { t: "fail", step: tr.step, error: fromErrorRecord(tr.error as ErrorRecord) };
    case "retry":
      return {
        t: "retry",
        step: tr.step,
        attempt: tr.attempt,
        ...(tr.error !== undefined ? { error: fromErrorRecord(tr.error as ErrorRecord) } : {}),
      };
    case "halt":
      return { t: "halt", stop: decodeStop(tr.stop) };
    default:
      return tr;
  }
}
