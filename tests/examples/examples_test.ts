/**
 * Runs every example as a user would (`deno run -A examples/<name>.ts`, a separate process)
 * and checks what it prints.
 *
 * @module
 */
import assert from "assert";

const ROOT = new URL("../../", import.meta.url);

async function runExample(
  name: string,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `examples/${name}.ts`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const out = {
    code,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
  assert.equal(out.code, 0, `examples/${name}.ts exited with ${code}:\n${out.stderr}`);
  assert.equal(out.stderr, "", `examples/${name}.ts wrote to stderr:\n${out.stderr}`);
  return out;
}

function lines(text: string): string[] {
  return text.split("\n").map((l) => l.trim());
}

Deno.test("examples/etl.ts runs the ETL job over a generated CSV and removes its temp dir", async () => {
  const { stdout } = await runExample("etl");
  const dir = stdout.match(/^Generated (.+)\/orders\.csv \(5000 orders, 7 broken rows\)$/m)?.[1];
  assert.ok(dir, `no "Generated" line in:\n${stdout}`);
  const out = lines(stdout);
  assert.ok(out.includes("[group_1] ( validate | profile ) ──> transform"), stdout);
  assert.match(stdout, /^Run etl-demo: completed in [\d.]+ ms$/m);
  const order = stdout.match(/^Tasks in completion order: (.+)$/m)?.[1].split(", ");
  assert.equal(order?.[0], "extract");
  assert.deepEqual(order?.slice(1, 3).sort(), ["profile", "validate"]);
  assert.deepEqual(order?.slice(3), ["transform", "load"]);
  for (
    const metric of ["rows.read 5000", "rows.valid 4993", "rows.rejected 7", "files.written 2"]
  ) {
    assert.ok(out.map((l) => l.replace(/\s+/g, " ")).includes(metric), `${metric} in:\n${stdout}`);
  }
  for (
    const reject of [
      "line 98: missing column(s) quantity, unit_price",
      'line 641: quantity "many" is not a whole number',
      "line 1314: quantity -3 is not positive",
      'line 2025: date "2024-13-45" is not a calendar date',
      "line 2901: country is empty",
      'line 3778: unit_price "12,50" is not a number',
      "line 4502: duplicate order_id 17",
    ]
  ) assert.ok(out.includes(reject), `${reject} in:\n${stdout}`);
  assert.match(stdout, /^Revenue: [\d,]+\.\d\d from 4993 valid orders$/m);
  assert.match(stdout, /^Wrote revenue_by_country\.csv, report\.json$/m);
  assert.ok(out.includes("country,orders,revenue"), stdout);
  // The per-country totals add up to the whole.
  const countries = [...stdout.matchAll(/^ {2}([A-Z]{2}) +(\d+) orders {2}([\d,.]+)$/gm)];
  assert.equal(countries.length, 8);
  assert.equal(countries.reduce((s, m) => s + Number(m[2]), 0), 4993);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("examples/etl.ts --rows 300 --keep scales down and keeps its output files", async () => {
  const { stdout } = await runExample("etl", ["--rows", "300", "--keep"]);
  const dir = stdout.match(/^\(kept (.+)\)$/m)?.[1];
  assert.ok(dir, stdout);
  try {
    assert.match(stdout, /rows\.read +300$/m);
    // Only the broken rows within the first 300 lines: line 98 (row 97).
    assert.match(stdout, /rows\.rejected +1$/m);
    const report = JSON.parse(await Deno.readTextFile(`${dir}/report.json`));
    assert.equal(report.orders, 299);
    const csv = (await Deno.readTextFile(`${dir}/revenue_by_country.csv`)).trim().split("\n");
    assert.equal(csv[0], "country,orders,revenue");
    const total = csv.slice(1).reduce((s, l) => s + Number(l.split(",")[2]), 0);
    assert.ok(Math.abs(total - report.revenue) < 0.05, `${total} vs ${report.revenue}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/diamond.ts joins both branches, as a group and as two statements", async () => {
  const { stdout } = await runExample("diamond");
  assert.equal(
    stdout.match(
      /^completed: fetch -> (stats -> histogram|histogram -> stats) -> report \(\d+ ms\)$/gm,
    )?.length,
    2,
    stdout,
  );
  assert.equal(stdout.match(/^ {2}report received keys: stats, histogram$/gm)?.length, 2, stdout);
  const outputs = stdout.match(/^output: .+$/gm) ?? [];
  assert.equal(outputs?.length, 2);
  assert.equal(outputs[0], outputs[1]);
  assert.equal(
    outputs[0],
    "output: 1000 values, mean 50.0, range 0..100, quartile counts 248/247/247/258",
  );
  assert.ok(lines(stdout).includes("[group_1] ( stats | histogram ) ──> report"), stdout);
  for (
    const edge of [
      "fetch --> stats",
      "fetch --> histogram",
      "stats --> report",
      "histogram --> report",
    ]
  ) {
    assert.ok(lines(stdout).includes(edge), `${edge} in:\n${stdout}`);
  }
});

Deno.test("examples/state_machine.ts walks NEW to SHIPPED with nextIteration and cancels a declined order", async () => {
  const { stdout } = await runExample("state_machine");
  const out = lines(stdout);
  for (
    const l of [
      "[cycle 1] order A1: NEW -> VALIDATED",
      "[cycle 2] order A1: VALIDATED -> PAID",
      "[cycle 3] order A1: PAID -> SHIPPED",
      "notify: order A1 is SHIPPED (tracking TRK-A1-3)",
      "status: completed, steps: 4",
      "completed: advance, advance, advance, notify",
      "history: NEW -> VALIDATED | VALIDATED -> PAID | PAID -> SHIPPED",
      "advance ×3 ──> advance (iterate ×2), notify",
      "[cycle 2] order B2: stays VALIDATED",
      'WorkflowCanceledError (code CANCELED) from task "advance": payment for order B2 was declined',
    ]
  ) assert.ok(out.includes(l), `${l} in:\n${stdout}`);
  assert.equal(stdout.match(/notify:/g)?.length, 1, "notify runs once, only for A1");
});

Deno.test("examples/dynamic_routing.ts adds tasks and jumps with ctx.next", async () => {
  const { stdout } = await runExample("dynamic_routing");
  const out = lines(stdout);
  for (
    const l of [
      "ran:    intake -> classify -> auto_approve -> notify",
      "output: r1: approved (by auto_approve)",
      "audit:  fraud_check r2: score 0.12 (country XX)",
      "output: r2: approved (by auto_approve)",
      "ran:    intake -> classify -> notify",
      "output: r3: duplicate (by classify)",
      "ran:    intake -> classify -> manual_review -> notify",
      "output: r4: reviewed (by manual_review)",
      "manual_review (dynamic) ──> notify (goto)",
      "classify ──> manual_review (goto)",
      'classify -.->|"goto"| manual_review',
    ]
  ) assert.ok(out.includes(l), `${l} in:\n${stdout}`);
  // r2: fraud_check was added, and the static successors still ran.
  const r2 = stdout.match(/^r2 .*\n {2}ran: +(.+)$/m)?.[1].split(" -> ");
  assert.deepEqual(r2?.slice().sort(), [
    "auto_approve",
    "classify",
    "fraud_check",
    "intake",
    "notify",
  ]);
  assert.ok(r2!.indexOf("fraud_check") > r2!.indexOf("classify"));
});

Deno.test("examples/error_policies.ts shows which policies accept the same outcome", async () => {
  const { stdout } = await runExample("error_policies");
  const verdicts = [
    ...stdout.matchAll(
      /^(.+): (succeeded|failed with ParallelGroupError \(code PARALLEL_GROUP_FAILED\))$/gm,
    ),
  ]
    .map((m) => [m[1], m[2].startsWith("failed") ? "failed" : "succeeded"]);
  assert.deepEqual(verdicts, [
    ["strict()", "failed"],
    ["bestEffort()", "succeeded"],
    ["atLeast(3)", "succeeded"],
    ["atLeast(4)", "failed"],
    ['critical(["charge", "reserve_stock"])', "succeeded"],
    ['critical(["charge", "email"])', "failed"],
    ["custom: one channel reaches the customer", "succeeded"],
    ["custom: every notification sent", "failed"],
    ["firstSuccess()", "succeeded"],
  ]);
  const out = lines(stdout);
  assert.equal(out.filter((l) => l === "confirm received: charge, push, reserve_stock").length, 4);
  // strict decides at the first failure (sms, which throws at once): the others are cancelled.
  const strict = stdout.split("strict(): ")[1].split("\nbestEffort")[0];
  assert.ok(strict.includes("cancelled: charge, reserve_stock, email, push"), strict);
  // Custom policies see every member settled.
  assert.equal(out.filter((l) => l === "succeeded: charge, reserve_stock, push").length, 1);
  assert.ok(out.includes("confirm received: push"), "firstSuccess: the first to succeed alone");
  assert.ok(out.includes("failed:    email: Error: SMTP server refused the connection"));
  assert.ok(out.includes("failed:    sms: TypeError: phone number is missing"));
  // critical(["charge", "email"]) lists only the critical failure.
  const critical = stdout.split('critical(["charge", "email"]): ')[1].split("\ncustom:")[0];
  assert.ok(!critical.includes("sms"), critical);
  assert.ok(out.includes("groupId:   after_order_6"));
  assert.equal(out.filter((l) => l.startsWith("refused: RangeError: ")).length, 2);
  assert.equal(out.filter((l) => l.startsWith("refused: TypeError: ")).length, 2);
});

Deno.test("examples/agent_loop.ts loops agent >> tool >> agent until the agent terminates", async () => {
  const { stdout } = await runExample("agent_loop");
  const out = lines(stdout);
  for (
    const l of [
      'agent (turn 1): call {"tool":"lookup_price","item":"widget"}',
      "tool  calculator -> 68.97",
      "tool  convert -> 63.45",
      "agent (turn 5): The order costs 63.45 EUR",
      "status: terminated, steps: 9",
      "output: The order costs 63.45 EUR",
      "agent ×5 ──> tool (×4)",
      "tool ×4 ──> agent (back ×4)",
      'CycleLimitExceededError (code CYCLE_LIMIT_EXCEEDED): Cannot run task "agent" again: it reached its cycle limit of 8 (maxCycles)',
    ]
  ) assert.ok(out.includes(l), `${l} in:\n${stdout}`);
});
