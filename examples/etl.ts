// deno-lint-ignore-file no-console
/**
 * The main example: an ETL job over a real CSV file.
 *
 *     extract >> (validate | profile) >> transform >> load
 *
 * It writes a CSV of 5,000 orders (with a few deliberately broken rows) into a temporary
 * directory, then runs the flow in-process: `extract` parses the file, `validate` and `profile`
 * run side by side in a parallel group, `transform` aggregates the valid rows, and `load` writes
 * the report files. Metrics go to the run's channel (`increment` / `append`); events time each
 * task. Run it with:
 *
 *     deno run -A examples/etl.ts [--rows 5000] [--keep]
 *
 * @module
 */
import {
  flow,
  MemoryChannel,
  progressReporter,
  task,
  type TaskContext,
  type WorkflowEvent,
} from "../mod.ts";

/** A row as read from the file: column name to raw text, plus its line number. */
interface RawRow {
  line: number;
  fields: Record<string, string>;
}

/** A row that passed validation, with typed fields. */
interface Order {
  id: number;
  date: string;
  customer: string;
  country: string;
  quantity: number;
  unitPrice: number;
}

/** What `extract` hands on. */
interface Extracted {
  file: string;
  columns: string[];
  rows: RawRow[];
}

/** What `profile` finds per column. */
interface Profile {
  rows: number;
  columns: Record<string, { empty: number; distinct: number }>;
}

/** A rejected row and why. */
interface Reject {
  line: number;
  reason: string;
}

const COLUMNS = ["order_id", "date", "customer", "country", "quantity", "unit_price"];
const COUNTRIES = ["DE", "FR", "JP", "US", "BR", "IN", "NL", "SE"];
const CUSTOMERS = ["Acme GmbH", "Blue Ocean", "Smith, Jane", "Kato & Co", "Nordwind AB", "Lumen"];

/** A small seeded PRNG (mulberry32), so every run writes the same file. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Deliberately broken rows, inserted at fixed positions: what each one breaks. */
const BROKEN: Record<number, (cells: string[]) => string[]> = {
  97: (c) => c.slice(0, 4), // too few columns
  640: (c) => (c[4] = "many", c), // quantity is not a number
  1313: (c) => (c[4] = "-3", c), // negative quantity
  2024: (c) => (c[1] = "2024-13-45", c), // impossible date
  2900: (c) => (c[3] = "", c), // missing country
  3777: (c) => (c[5] = "12,50", c), // decimal comma (quoted, so one field)
  4501: (c) => (c[0] = "17", c), // duplicate order id
};

/**
 * Writes `rows` orders to `orders.csv` in `dir`.
 *
 * @param dir Target directory.
 * @param rows Number of data rows.
 * @returns The file path.
 */
async function writeOrdersCsv(dir: string, rows: number): Promise<string> {
  const random = prng(42);
  const lines = [COLUMNS.join(",")];
  for (let i = 1; i <= rows; i++) {
    const day = 1 + Math.floor(random() * 28);
    const month = 1 + Math.floor(random() * 12);
    let cells = [
      String(i),
      `2024-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`,
      CUSTOMERS[Math.floor(random() * CUSTOMERS.length)],
      COUNTRIES[Math.floor(random() * COUNTRIES.length)],
      String(1 + Math.floor(random() * 9)),
      (5 + random() * 95).toFixed(2),
    ];
    if (BROKEN[i]) cells = BROKEN[i](cells);
    lines.push(cells.map(csvField).join(","));
  }
  const file = `${dir}/orders.csv`;
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  return file;
}

/** Splits one CSV line into fields (double quotes, doubled quotes inside quotes). */
function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (field += '"', i++);
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") (out.push(field), field = "");
    else field += ch;
  }
  out.push(field);
  return out;
}

// --- the tasks -----------------------------------------------------------------------------

task("extract", async (file: string, ctx: TaskContext): Promise<Extracted> => {
  const text = await Deno.readTextFile(file);
  const [header, ...lines] = text.split("\n").filter((l) => l.length > 0);
  const columns = parseCsvLine(header);
  const rows = lines.map((l, i) => {
    const cells = parseCsvLine(l);
    const fields: Record<string, string> = {};
    cells.forEach((v, j) => fields[columns[j] ?? `extra_${j}`] = v);
    return { line: i + 2, fields };
  });
  await ctx.channel.increment("rows.read", rows.length);
  await ctx.channel.increment("bytes.read", new TextEncoder().encode(text).length);
  return { file, columns, rows };
});

function checkRow(row: RawRow, seen: Set<string>): string | undefined {
  const f = row.fields;
  const missing = COLUMNS.filter((c) => f[c] === undefined);
  if (missing.length) return `missing column(s) ${missing.join(", ")}`;
  if (!/^\d+$/.test(f.order_id)) return `order_id "${f.order_id}" is not a number`;
  if (seen.has(f.order_id)) return `duplicate order_id ${f.order_id}`;
  const d = new Date(`${f.date}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== f.date) {
    return `date "${f.date}" is not a calendar date`;
  }
  if (f.country === "") return "country is empty";
  if (!/^-?\d+$/.test(f.quantity)) return `quantity "${f.quantity}" is not a whole number`;
  if (Number(f.quantity) <= 0) return `quantity ${f.quantity} is not positive`;
  if (!/^\d+(\.\d+)?$/.test(f.unit_price)) return `unit_price "${f.unit_price}" is not a number`;
  return undefined;
}

task("validate", async (data: Extracted, ctx: TaskContext) => {
  const seen = new Set<string>();
  const valid: Order[] = [];
  for (const row of data.rows) {
    const reason = checkRow(row, seen);
    if (reason) {
      await ctx.channel.append("rejects", { line: row.line, reason } satisfies Reject);
      continue;
    }
    const f = row.fields;
    seen.add(f.order_id);
    valid.push({
      id: Number(f.order_id),
      date: f.date,
      customer: f.customer,
      country: f.country,
      quantity: Number(f.quantity),
      unitPrice: Number(f.unit_price),
    });
  }
  await ctx.channel.increment("rows.valid", valid.length);
  await ctx.channel.increment("rows.rejected", data.rows.length - valid.length);
  return valid;
});

task("profile", (data: Extracted): Profile => {
  const columns: Profile["columns"] = {};
  for (const c of data.columns) {
    const values = new Set<string>();
    let empty = 0;
    for (const row of data.rows) {
      const v = row.fields[c];
      if (v === undefined || v === "") empty++;
      else values.add(v);
    }
    columns[c] = { empty, distinct: values.size };
  }
  return { rows: data.rows.length, columns };
});

interface Report {
  orders: number;
  revenue: number;
  byCountry: { country: string; orders: number; revenue: number }[];
  byMonth: { month: string; revenue: number }[];
  profile: Profile;
}

task(
  "transform",
  (inputs: { validate: Order[]; profile: Profile }): Report => {
    const countries = new Map<string, { orders: number; revenue: number }>();
    const months = new Map<string, number>();
    let revenue = 0;
    for (const o of inputs.validate) {
      const amount = o.quantity * o.unitPrice;
      revenue += amount;
      const c = countries.get(o.country) ?? { orders: 0, revenue: 0 };
      c.orders++;
      c.revenue += amount;
      countries.set(o.country, c);
      const month = o.date.slice(0, 7);
      months.set(month, (months.get(month) ?? 0) + amount);
    }
    return {
      orders: inputs.validate.length,
      revenue,
      byCountry: [...countries].map(([country, c]) => ({ country, ...c }))
        .sort((a, b) => b.revenue - a.revenue),
      byMonth: [...months].map(([month, r]) => ({ month, revenue: r }))
        .sort((a, b) => a.month.localeCompare(b.month)),
      profile: inputs.profile,
    };
  },
);

task("load", async (report: Report, ctx: TaskContext) => {
  const dir = await ctx.channel.get<string>("outputDir");
  const countryCsv = ["country,orders,revenue"]
    .concat(report.byCountry.map((c) => `${c.country},${c.orders},${c.revenue.toFixed(2)}`));
  const files = [`${dir}/revenue_by_country.csv`, `${dir}/report.json`];
  await Deno.writeTextFile(files[0], countryCsv.join("\n") + "\n");
  await Deno.writeTextFile(files[1], JSON.stringify(report, null, 2));
  await ctx.channel.increment("files.written", files.length);
  return { files, orders: report.orders, revenue: report.revenue };
});

/** The whole job: names refer to the tasks defined above. */
export const etl = flow`extract >> (validate | profile) >> transform >> load`;

// --- running it ----------------------------------------------------------------------------

function option(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

function money(n: number): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

if (import.meta.main) {
  const rows = option("rows", 5000);
  const dir = await Deno.makeTempDir({ prefix: "graflow_etl_" });
  try {
    const file = await writeOrdersCsv(dir, rows);
    console.log(`Generated ${file} (${rows} orders, ${Object.keys(BROKEN).length} broken rows)\n`);
    console.log("The flow:");
    console.log(etl.toAscii());

    const durations = new Map<string, number>();
    const onEvent = (e: WorkflowEvent) => {
      if (e.type === "task.succeeded") durations.set(e.taskId, e.durationMs);
    };
    const started = performance.now();
    const channel = new MemoryChannel();
    await channel.set("outputDir", dir); // tasks read settings from the channel too
    // A live progress line on stderr when it is a terminal (plain lines every 10 s otherwise).
    const progress = progressReporter({ label: "etl" });
    const result = await etl.run({
      input: file,
      channel,
      onEvent,
      runId: "etl-demo",
      onProgress: progress.onProgress,
      progressIntervalMs: 250,
    });
    const elapsed = performance.now() - started;
    const ch = result.channel;
    const out = result.output as { files: string[]; orders: number; revenue: number };

    console.log(`Run ${result.runId}: ${result.status} in ${elapsed.toFixed(1)} ms`);
    console.log(`Tasks in completion order: ${result.completed.join(", ")}`);
    for (const [id, ms] of durations) console.log(`  ${id.padEnd(10)} ${ms.toFixed(2)} ms`);

    console.log("\nMetrics (from the run's channel):");
    for (const key of ["rows.read", "rows.valid", "rows.rejected", "files.written"]) {
      console.log(`  ${key.padEnd(14)} ${await ch.get(key)}`);
    }
    const rejects = (await ch.get<Reject[]>("rejects")) ?? [];
    console.log(`\nRejected rows (${rejects.length}):`);
    for (const r of rejects) console.log(`  line ${r.line}: ${r.reason}`);

    const report = result.results.transform as Report;
    console.log(`\nRevenue: ${money(out.revenue)} from ${out.orders} valid orders`);
    console.log("By country:");
    for (const c of report.byCountry) {
      console.log(`  ${c.country}  ${String(c.orders).padStart(5)} orders  ${money(c.revenue)}`);
    }
    console.log(`Profile: ${report.profile.rows} rows; distinct values per column:`);
    console.log(
      "  " +
        Object.entries(report.profile.columns).map(([c, s]) => `${c}=${s.distinct}`).join(" "),
    );
    console.log(`\nWrote ${out.files.map((f) => f.slice(dir.length + 1)).join(", ")}`);
    const head = (await Deno.readTextFile(out.files[0])).split("\n").slice(0, 3);
    console.log(head.map((l) => `  ${l}`).join("\n"));
  } finally {
    if (Deno.args.includes("--keep")) console.log(`\n(kept ${dir})`);
    else await Deno.remove(dir, { recursive: true });
  }
}
