// deno-lint-ignore-file no-console
/**
 * The operations server under load, on a local store:
 *
 * 1. `GET /runs` over a store with 10,000 runs: server time (the handler's own measure, from the
 *    request reaching the server to its response) per page of 50, over walks through every page
 *    with the cursor and filtered lists (status, flow); p50 / p99. Goal: p99 under 100 ms.
 * 2. From a store write to the browser: 50 Server-Sent Events clients on `/runs/events`; a run's
 *    owner updates its record (as the engine does after each task) with the time in `output`,
 *    and each client subtracts it from its receipt time;
 *    p50 / p99 over every (write, client) pair. Writes come from this process and from another
 *    process sharing the store (which the server sees by polling, every 100 ms by default).
 *    Goal: p99 under 250 ms.
 *
 *     deno run -A bench/server_bench.ts [--runs 10000] [--clients 50] [--writes 100] [--poll-ms 50]
 *
 * @module
 */
import { localRunStore } from "../mod.ts";
import { serve } from "../src/server/mod.ts";

function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i < 0 ? fallback : Deno.args[i + 1];
}
const RUNS = Number(option("runs", "10000"));
const CLIENTS = Number(option("clients", "50"));
const WRITES = Number(option("writes", "100"));
const POLL_MS = Number(option("poll-ms", "50"));
const TOKEN = "bench-token-0123456789abcdef";

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const fmt = (xs: number[]) =>
  `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${
    Math.max(...xs).toFixed(1)
  } ms (n=${xs.length})`;

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "graflow-server-bench-" });
  // The server sees writes of other processes by polling the store (pollMs; the default is 50).
  const store = localRunStore({ dir, pollMs: POLL_MS });
  const serverMs = new Map<string, number>();
  const server = await serve({
    store,
    port: 0,
    tokens: [{ name: "bench", role: "operator", token: TOKEN }],
    onServerEvent: (e) => {
      if (e.type === "request") serverMs.set(`${e.path}#${serverMs.size}`, e.ms);
    },
  });
  const headers = { authorization: `Bearer ${TOKEN}` };
  try {
    // 1. GET /runs over RUNS runs.
    const t0 = performance.now();
    const statuses = ["queued", "running", "completed", "failed", "waiting"] as const;
    for (let i = 0; i < RUNS; i++) {
      await store.create({
        runId: `bench-${String(i).padStart(6, "0")}`,
        flow: `flow_${i % 7}`,
        version: "v1",
        graph: null,
        input: { i },
        status: "queued",
      });
    }
    console.log(`created ${RUNS} runs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    void statuses;
    const timings: number[] = [];
    const client: number[] = [];
    const get = async (q: string) => {
      serverMs.clear();
      const c0 = performance.now();
      const res = await fetch(`${server.url}/runs?${q}`, { headers });
      const body = await res.json();
      client.push(performance.now() - c0);
      if (res.status !== 200) {
        throw new Error(`GET /runs?${q}: ${res.status} ${JSON.stringify(body)}`);
      }
      timings.push([...serverMs.values()][0]);
      return body as { runs: unknown[]; cursor?: string };
    };
    for (let walk = 0; walk < 2; walk++) {
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await get(`limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        cursor = page.cursor;
        pages++;
      } while (cursor);
      if (walk === 0) console.log(`walked ${pages} pages of 50`);
    }
    for (let i = 0; i < 100; i++) await get(`limit=50&flow=flow_${i % 7}&status=queued`);
    console.log(`GET /runs (page of 50, ${RUNS} runs), server time: ${fmt(timings)}`);
    console.log(`GET /runs (page of 50, ${RUNS} runs), client round trip: ${fmt(client)}`);

    // 2. SSE latency with CLIENTS viewers.
    const latencies: { local: number[]; remote: number[] } = { local: [], remote: [] };
    const ac = new AbortController();
    const readers = await Promise.all(Array.from({ length: CLIENTS }, async () => {
      const res = await fetch(`${server.url}/runs/events`, { headers, signal: ac.signal });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      const done = (async () => {
        let buf = "";
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            buf += value;
            let end;
            while ((end = buf.indexOf("\n\n")) >= 0) {
              const chunk = buf.slice(0, end);
              buf = buf.slice(end + 2);
              const data = /^data: (.*)$/m.exec(chunk)?.[1];
              if (!data || !/^event: run$/m.test(chunk)) continue;
              const input = JSON.parse(data).run.output as { t?: number; from?: string } | null;
              if (input?.t) {
                (input.from === "remote" ? latencies.remote : latencies.local).push(
                  Date.now() - input.t,
                );
              }
            }
          }
        } catch { /* aborted */ }
      })();
      return { done, stop: () => reader.cancel().catch(() => {}) };
    }));
    while (server.clients < CLIENTS) await new Promise((r) => setTimeout(r, 10));
    // The owner of a run updating its record, as the engine does after each settled task.
    const { lease } = await store.create({
      runId: "sse-local",
      flow: "sse",
      version: "v1",
      graph: null,
      input: null,
      status: "running",
      owner: "bench",
      leaseMs: 3_600_000,
    });
    for (let i = 0; i < WRITES; i++) {
      await store.update("sse-local", lease!, {
        steps: i,
        output: { t: Date.now(), from: "local" },
      });
      await new Promise((r) => setTimeout(r, 20));
    }
    const script = `
      import { localRunStore } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
      const store = localRunStore({ dir: ${JSON.stringify(dir)} });
      const { lease } = await store.create({ runId: "sse-remote", flow: "sse", version: "v1",
        graph: null, input: null, status: "running", owner: "writer", leaseMs: 3600000 });
      for (let i = 0; i < ${WRITES}; i++) {
        await store.update("sse-remote", lease, { steps: i, output: { t: Date.now(), from: "remote" } });
        await new Promise((r) => setTimeout(r, 20));
      }
      await store.close();`;
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (child.code !== 0) throw new Error("the writer process failed");
    const want = WRITES * CLIENTS;
    const end = Date.now() + 10_000;
    while ((latencies.local.length < want || latencies.remote.length < want) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const r of readers) r.stop();
    ac.abort();
    await Promise.all(readers.map((r) => r.done));
    console.log(
      `store write → ${CLIENTS} SSE clients, writer in the server's process: ${
        fmt(latencies.local)
      }`,
    );
    console.log(
      `store write → ${CLIENTS} SSE clients, writer in another process (store polled every ${POLL_MS} ms): ${
        fmt(latencies.remote)
      }`,
    );
  } finally {
    await server.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
