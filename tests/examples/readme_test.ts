/**
 * Runs the TypeScript snippets of README.md between `<!-- snippets:begin -->` and
 * `<!-- snippets:end -->`, each in its own process (task names are per process), and checks
 * what they print: a `console.log(...); // text` line must print `text`, and a ```text block
 * right after a snippet lists lines its output must contain, in order.
 *
 * Every other TypeScript block of README.md is a file of the example project
 * (`<!-- file: name.ts -->` before it), which `tests/package/fresh_project_test.ts` builds in a
 * fresh folder and runs; this test checks that no block is left out of both.
 *
 * @module
 */
import assert from "assert";

const ROOT = new URL("../../", import.meta.url);
const CONFIG = new URL("deno.json", ROOT).pathname;
/** The package's entry points (`"@graflow/graflow"`, `"@graflow/graflow/server"`, …) as files. */
const ENTRIES: [string, string][] = Object.entries(
  JSON.parse(await Deno.readTextFile(CONFIG)).exports as Record<string, string>,
).map(([k, v]) => [`"@graflow/graflow${k.slice(1)}"`, `"${new URL(v, ROOT).href}"`]);

interface Snippet {
  /** Line of the opening fence in README.md. */
  line: number;
  code: string;
  /** Output lines expected in order. */
  expected: string[];
}

function snippets(readme: string): Snippet[] {
  const lines = readme.split("\n");
  const out: Snippet[] = [];
  let inRegion = false;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "<!-- snippets:begin -->") inRegion = true;
    if (lines[i].trim() === "<!-- snippets:end -->") inRegion = false;
    if (!inRegion || lines[i].trim() !== "```ts") continue;
    const start = i;
    const code: string[] = [];
    while (lines[++i].trim() !== "```") code.push(lines[i]);
    const expected: string[] = [];
    for (const l of code) {
      const m = l.match(/console\.log\(.*\);\s*\/\/ (.+)$/);
      if (m) expected.push(m[1]);
    }
    // A ```text block right after the snippet is output too.
    if (lines[i + 1]?.trim() === "```text") {
      i += 1;
      while (lines[++i].trim() !== "```") if (lines[i].trim()) expected.push(lines[i]);
    }
    out.push({ line: start + 1, code: code.join("\n"), expected });
  }
  return out;
}

const readme = await Deno.readTextFile(new URL("README.md", ROOT));
const found = snippets(readme);

async function deno(
  args: string[],
  cwd: string,
): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}

Deno.test("README.md snippets type-check, run and print what they say", async (t) => {
  assert.ok(found.length >= 8, `only ${found.length} snippets between the markers`);
  const dir = await Deno.makeTempDir({ prefix: "graflow_readme_" });
  try {
    const files = await Promise.all(found.map(async (snippet) => {
      assert.ok(snippet.code.includes('from "@graflow/graflow"'), `README.md:${snippet.line}`);
      const file = `${dir}/snippet_${snippet.line}.ts`;
      let code = snippet.code;
      for (const [name, url] of ENTRIES) code = code.replaceAll(name, url);
      await Deno.writeTextFile(file, code);
      return file;
    }));
    await t.step("every snippet type-checks", async () => {
      // The package's own import map: its dependencies (hono, ioredis) resolve as they do here.
      const { code, err } = await deno(["check", "--quiet", "--config", CONFIG, ...files], dir);
      assert.equal(code, 0, err);
    });
    for (const [i, snippet] of found.entries()) {
      const title = snippet.code.match(/^\/\/ (.+)$/m)?.[1] ?? "";
      await t.step(`README.md:${snippet.line} (${title})`, async () => {
        const { code, out, err } = await deno(
          ["run", "-A", "--quiet", "--config", CONFIG, files[i]],
          dir,
        );
        assert.equal(code, 0, `snippet at README.md:${snippet.line} exited with ${code}:\n${err}`);
        const printed = out.split("\n").map((l) => l.trimEnd());
        let at = 0;
        for (const want of snippet.expected) {
          const next = printed.indexOf(want.trimEnd(), at);
          assert.ok(
            next >= 0,
            `README.md:${snippet.line}: expected the line\n  ${want}\nin the output (in order):\n${out}`,
          );
          at = next + 1;
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every other TypeScript block of README.md is a project file that a test runs", async () => {
  const lines = readme.split("\n");
  const project = await Deno.readTextFile(
    new URL("tests/package/fresh_project_test.ts", ROOT),
  );
  const listed = project.match(/const PROJECT_FILES = \[([^\]]*)\]/)?.[1];
  assert.ok(listed, "fresh_project_test.ts has no PROJECT_FILES list");
  const runByProjectTest = new Set(JSON.parse(`[${listed}]`) as string[]);
  let inRegion = false;
  const files: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim();
    if (l === "<!-- snippets:begin -->") inRegion = true;
    if (l === "<!-- snippets:end -->") inRegion = false;
    if (inRegion || !/^```(ts|typescript|js)\b/.test(l)) continue;
    let j = i - 1;
    while (j >= 0 && lines[j].trim() === "") j--;
    const file = lines[j]?.match(/^<!-- file: (\S+) -->$/)?.[1];
    assert.ok(file, `README.md:${i + 1}: a TypeScript block outside the snippets, not a file`);
    assert.ok(runByProjectTest.has(file), `README.md:${i + 1}: ${file} is not run by a test`);
    files.push(file);
  }
  assert.deepEqual(files.sort(), [...runByProjectTest].sort());
});
