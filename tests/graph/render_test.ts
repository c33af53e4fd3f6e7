import assert from "assert";
import { bestEffort, flow, parallel, task, type TaskContext } from "../../mod.ts";

// Task names are process-global: everything in this file starts with "gr_" (or is "END").
const id = (x: unknown) => x;
task("gr_a", id);
task("gr_b", id);
task("gr_c", id);
task("gr_d", id);

Deno.test("flow.toMermaid() draws tasks, a group as a subgraph, and edges to and from it", () => {
  assert.equal(
    flow`gr_a >> (gr_b | gr_c) >> gr_d`.toMermaid(),
    `flowchart TD
  gr_a["gr_a"]
  gr_d["gr_d"]
  subgraph group_1 ["group_1"]
    direction LR
    gr_b["gr_b"]
    gr_c["gr_c"]
  end
  gr_a --> group_1
  group_1 --> gr_d
`,
  );
});

Deno.test("flow.toDot() draws a group as a cluster with lhead/ltail edges", () => {
  assert.equal(
    flow`gr_a >> (gr_b | gr_c) >> gr_d`.toDot(),
    `digraph flow {
  rankdir=TB;
  compound=true;
  node [shape=box];
  "gr_a" [label="gr_a"];
  "gr_d" [label="gr_d"];
  subgraph "cluster_group_1" {
    label="group_1";
    "group_1" [shape=point, label=""];
    "gr_b" [label="gr_b"];
    "gr_c" [label="gr_c"];
  }
  "gr_a" -> "group_1" [lhead="cluster_group_1"];
  "group_1" -> "gr_d" [ltail="cluster_group_1"];
}
`,
  );
});

Deno.test("flow.toAscii() lists nodes with successors and groups with members", () => {
  assert.equal(
    flow`gr_a >> (gr_b | gr_c >> gr_d)`.toAscii(),
    `gr_a ──> group_1
[group_1] ( gr_b | gr_c >> gr_d )
    gr_b
    gr_c ──> gr_d
    gr_d
`,
  );
});

Deno.test("drawings of loops and joins show every edge once", () => {
  const f = flow`gr_a >> gr_b >> gr_a\ngr_c >> gr_b`;
  const mermaid = f.toMermaid();
  for (const edge of ["gr_a --> gr_b", "gr_b --> gr_a", "gr_c --> gr_b"]) {
    assert.equal(mermaid.split(`  ${edge}\n`).length, 2, edge);
  }
});

Deno.test("renderers make ids safe and unique; labels keep the real names", () => {
  task("gr_x.y", id);
  task("gr_x_y", id);
  task("END", id);
  const mermaid = flow`gr_x.y >> gr_x_y >> END`.toMermaid();
  assert.match(mermaid, /\n {2}gr_x_y\["gr_x\.y"\]\n/);
  assert.match(mermaid, /\n {2}gr_x_y_2\["gr_x_y"\]\n/);
  assert.match(mermaid, /\n {2}END_\["END"\]\n/, "a Mermaid keyword is not used as an id");
  assert.match(mermaid, /gr_x_y --> gr_x_y_2\n {2}gr_x_y_2 --> END_\n/);
  const dot = flow`gr_x.y >> gr_x_y`.toDot();
  assert.match(dot, /"gr_x\.y" -> "gr_x_y";/);
});

Deno.test("named groups and policies label the boxes", () => {
  const g = parallel([task("gr_p1", id), task("gr_p2", id)], {
    name: "gr_fan.out",
    policy: bestEffort(),
  });
  const f = flow`gr_a >> ${g}`;
  assert.match(f.toMermaid(), /subgraph gr_fan_out \["gr_fan\.out \(best effort\)"\]/);
  assert.match(f.toDot(), /label="gr_fan\.out \(best effort\)";/);
  assert.match(f.toAscii(), /^\[gr_fan\.out best effort\] \( gr_p1 \| gr_p2 \)$/m);
});

Deno.test("nested groups are nested subgraphs", () => {
  const mermaid = flow`(gr_a | (gr_b | gr_c)) >> gr_d`.toMermaid();
  assert.equal(
    mermaid,
    `flowchart TD
  gr_d["gr_d"]
  subgraph group_2 ["group_2"]
    direction LR
    gr_a["gr_a"]
    subgraph group_1 ["group_1"]
      direction LR
      gr_b["gr_b"]
      gr_c["gr_c"]
    end
  end
  group_2 --> gr_d
`,
  );
});

Deno.test("the executed graph shows dynamic tasks, iteration counts and how edges were taken", async () => {
  const dyn = task("gr_dyn", id);
  task("gr_iter", (x: number, ctx: TaskContext) => {
    if (x < 3) ctx.nextIteration(x + 1);
    else ctx.next(dyn);
    return x;
  });
  const result = await flow`gr_a >> gr_iter >> gr_d`.run({ input: 0 });
  const graph = result.graph;
  assert.deepEqual(graph.counts(), { gr_a: 1, gr_iter: 4, gr_dyn: 1, gr_d: 1 });
  const edges = graph.edges().map((e) => `${e.from}-${e.kind}->${e.to} ×${e.count}`).sort();
  assert.deepEqual(edges, [
    "gr_a-edge->gr_iter ×1",
    "gr_iter-edge->gr_d ×1",
    "gr_iter-iterate->gr_iter ×3",
    "gr_iter-next->gr_dyn ×1",
    "start-start->gr_a ×1",
  ]);
  const mermaid = graph.toMermaid();
  assert.match(mermaid, /\n {2}gr_iter\["gr_iter ×4"\]\n/);
  assert.match(mermaid, /\n {2}gr_dyn\[\/"gr_dyn"\/\]\n/, "a dynamic task has its own shape");
  assert.match(mermaid, /\n {2}gr_iter -\.->\|"iterate ×3"\| gr_iter\n/);
  assert.match(mermaid, /\n {2}gr_iter -\.->\|"next"\| gr_dyn\n/);
  assert.match(mermaid, /\n {2}gr_iter --> gr_d\n/);
  const dot = graph.toDot();
  assert.match(dot, /"gr_dyn" \[label="gr_dyn", style=dashed\];/);
  assert.match(dot, /"gr_iter" -> "gr_iter" \[label="iterate ×3", style=dashed\];/);
  const ascii = graph.toAscii();
  // Edges are listed in plan order (tasks added at run time last), whatever finished first.
  assert.match(ascii, /^gr_iter ×4 ──> gr_iter \(iterate ×3\), gr_d, gr_dyn \(next\)$/m);
  assert.match(ascii, /^gr_dyn \(dynamic\)$/m);
});

Deno.test("the executed graph leaves out what did not run and marks gotos", async () => {
  const target = task("gr_target", id);
  task("gr_skipped", id);
  task("gr_jumper", (x: unknown, ctx: TaskContext) => {
    ctx.next(target, x, { goto: true });
    return x;
  });
  const result = await flow`gr_jumper >> gr_skipped`.run();
  const mermaid = result.graph.toMermaid();
  assert.ok(!mermaid.includes("gr_skipped"), mermaid);
  assert.match(mermaid, /gr_jumper -\.->\|"goto"\| gr_target/);
  assert.ok(!("gr_skipped" in result.graph.counts()));
});

Deno.test("the executed graph counts loop passes on back edges", async () => {
  task("gr_loop_a", (x: number, ctx: TaskContext) => {
    if (ctx.cycle === 3) ctx.terminate();
    return x;
  });
  task("gr_loop_b", id);
  const result = await flow`gr_loop_a >> gr_loop_b >> gr_loop_a`.run({ input: 1 });
  assert.deepEqual(result.graph.counts(), { gr_loop_a: 3, gr_loop_b: 2 });
  const mermaid = result.graph.toMermaid();
  assert.match(mermaid, /gr_loop_a\["gr_loop_a ×3"\]/);
  assert.match(mermaid, /\n {2}gr_loop_a -->\|"×2"\| gr_loop_b\n/);
  assert.match(mermaid, /\n {2}gr_loop_b -->\|"back ×2"\| gr_loop_a\n/);
});

Deno.test("the executed graph draws groups that ran as subgraphs", async () => {
  const result = await flow`gr_a >> (gr_b | gr_c) >> gr_d`.run({ input: 1 });
  assert.equal(
    result.graph.toMermaid(),
    flow`gr_a >> (gr_b | gr_c) >> gr_d`.toMermaid(),
    "a run that took every edge once draws like the flow",
  );
});

Deno.test("ExecutedGraph.edges() and counts() are copies", async () => {
  const result = await flow`gr_a >> gr_b`.run();
  const edges = result.graph.edges();
  edges[0].count = 99;
  edges.pop();
  assert.equal(result.graph.edges().length, 2);
  assert.ok(result.graph.edges().every((e) => e.count === 1));
  const counts = result.graph.counts();
  counts["gr_a"] = 42;
  assert.equal(result.graph.counts()["gr_a"], 1);
});
