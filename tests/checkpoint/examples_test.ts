/**
 * Runs the checkpoint and human-in-the-loop examples as a user would
 * (`deno run -A examples/<name>.ts`, a separate process) and checks what they print.
 *
 * @module
 */
import assert from "assert";
import { denoRun } from "./helpers.ts";

const ROOT = new URL("../../", import.meta.url);

async function example(name: string): Promise<string> {
  const out = await denoRun(new URL(`examples/${name}.ts`, ROOT));
  assert.equal(out.code, 0, `examples/${name}.ts exited with ${out.code}:\n${out.stderr}`);
  assert.equal(out.stderr, "", `examples/${name}.ts wrote to stderr:\n${out.stderr}`);
  return out.stdout;
}

function line(stdout: string, pattern: RegExp): RegExpMatchArray {
  const m = stdout.match(pattern);
  assert.ok(m, `no line matching ${pattern} in:\n${stdout}`);
  return m;
}

Deno.test("examples/checkpoint_basic.ts writes three files, inspects them and resumes only the pending task", async () => {
  const out = await example("checkpoint_basic");
  const output = "2 rows from inventory.csv loaded (A-1, C-3)";
  line(
    out,
    new RegExp(`^Run basic-demo: completed, output: ${output.replace(/[()]/g, "\\$&")}$`, "m"),
  );
  line(
    out,
    /^Checkpoint written: step_2 \(files: step_2\.channel, step_2\.meta\.json, step_2\.state\.json\)$/m,
  );
  line(out, /^ {2}run basic-demo, step 2, by task transform$/m);
  line(out, /^ {2}created at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/m);
  line(out, /^ {2}user metadata: \{"stage":"transformed","rows":2\}$/m);
  line(out, /^ {2}completed: extract, transform$/m);
  line(out, /^ {2}pending: load$/m);
  line(out, /^ {2}state checksum sha256: [0-9a-f]{16}…$/m);
  line(out, /^ {2}tasks run by the resume: load$/m);
  line(out, /^ {2}rows\.dropped restored from the channel: 1$/m);
  line(out, /^Same result as the uninterrupted run: true$/m);
});

Deno.test("examples/checkpoint_state_machine.ts checkpoints every transition and resumes from each", async () => {
  const out = await example("checkpoint_state_machine");
  line(
    out,
    /^Run: completed: ticket T-42 CLOSED after 4 transitions: OPEN->TRIAGED, TRIAGED->IN_PROGRESS, IN_PROGRESS->RESOLVED, RESOLVED->CLOSED$/m,
  );
  line(out, /^Checkpoints \(one per transition\): 4$/m);
  const rows = [
    ...out.matchAll(
      /^ {2}step_(\d): (\w+) -> (\w+); resume ran (\d) more transition\(s\), (.+)$/gm,
    ),
  ];
  assert.deepEqual(
    rows.map((r) => [r[1], r[2], r[3], r[4], r[5]]),
    [
      ["1", "OPEN", "TRIAGED", "3", "same result"],
      ["2", "TRIAGED", "IN_PROGRESS", "2", "same result"],
      ["3", "IN_PROGRESS", "RESOLVED", "1", "same result"],
      ["4", "RESOLVED", "CLOSED", "0", "same result"],
    ],
  );
});

Deno.test("examples/checkpoint_periodic.ts checkpoints every 5 epochs, keeps 2, resumes to the same model", async () => {
  const out = await example("checkpoint_periodic");
  const model = line(out, /^Model (after 20 epochs: w=[\d.]+ b=[\d.]+)$/m)[1];
  line(out, /^Checkpoints written: step_6, step_11, step_16, step_21$/m);
  line(out, /^Kept on disk: step_16, step_21$/m);
  line(out, /^Resuming from step_16 \(epoch 15\)$/m);
  const resumed = line(out, /^ {2}ran (\d+) more epochs; model (.+)$/m);
  assert.equal(resumed[1], "5");
  assert.equal(resumed[2], model);
  line(out, /^ {2}loss history has 20 entries, last [\d.]+$/m);
  line(out, /^Same model as the uninterrupted run: true$/m);
  const w = Number(model.match(/w=([\d.]+)/)![1]);
  assert.ok(w > 2.5 && w < 3.5, `the model learned w close to 3: ${w}`);
});

Deno.test("examples/fault_recovery.ts kills its child with SIGKILL and resumes to the same result", async () => {
  const out = await example("fault_recovery");
  assert.equal([...out.matchAll(/^ {2}child: checkpoint /gm)].length >= 3, true, out);
  line(out, /^ {2}killed the child with SIGKILL$/m);
  line(out, /^Child ended by signal SIGKILL$/m);
  assert.doesNotMatch(out, /child finished/);
  const from = line(out, /^Resuming from step_(\d+) \(stage (\d), completed: setup, (.+)\)$/m);
  assert.ok(Number(from[2]) >= 3, out);
  line(out, /^Resumed run batch-7: completed$/m);
  line(out, /^ {2}output: download > unpack > validate > index > thumbnail > publish > notify$/m);
  line(out, /^ {2}stages\.done in the channel: 7$/m);
  const journal = line(out, /^Journal: (\d+) lines from (\d) processes$/m);
  assert.equal(journal[2], "2", "stages ran in the killed child and in the resuming parent");
  assert.ok(Number(journal[1]) >= 7 && Number(journal[1]) <= 8, out);
  line(out, /^Every stage ran: true$/m);
  line(out, /^Same result as an uninterrupted run: true$/m);
});

Deno.test("examples/approval.ts times out to waiting, takes a late answer and resumes without waiting", async () => {
  const out = await example("approval");
  const id = "release-2.4.0.approve.c1.n1";
  assert.ok(out.includes(`Asked for approval: ${id}\n`), out);
  line(out, /^Run release-2.4.0: waiting$/m);
  assert.ok(out.includes(`  waiting for feedback ${id}\n`), out);
  line(out, /^ {2}checkpoint step_1$/m);
  line(out, /^Answered: approved=true by release-manager$/m);
  line(out, /^Second answer refused: FEEDBACK_ALREADY_ANSWERED$/m);
  line(out, /^Resumed: completed: deployed 2\.4\.0 \(approved by release-manager\)$/m);
  line(out, /^ {2}approve ran 2 times; the resume did not wait \(true\)$/m);
  // Asked once: the resume got the stored answer without a new request.
  assert.equal([...out.matchAll(/^Asked for approval/gm)].length, 1);
});
