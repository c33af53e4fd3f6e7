/**
 * The worker's HTTP endpoints: `/metrics` (Prometheus text) and `/health` (JSON; 503 when Redis
 * does not answer or the consume loop is stuck).
 *
 * @module
 */
import type { WorkerHealth } from "./worker_health.ts";
import {
  CONTENT_TYPES,
  type MetricsFormat,
  negotiateFormat,
} from "../observability/metrics_registry.ts";

/** What the server needs of a worker. */
export interface MetricsSource {
  /** The exposition, in Prometheus text or OpenMetrics text (with exemplars). */
  metricsText(format?: MetricsFormat): Promise<string>;
  /** Health report. */
  health(): Promise<WorkerHealth>;
}

/**
 * Serves `/metrics` and `/health`.
 *
 * @param source The worker.
 * @param port Port (0: any free port).
 * @param hostname Address.
 * @returns The bound port and a shutdown function.
 */
export function serveMetrics(
  source: MetricsSource,
  port: number,
  hostname: string,
): { port: number; shutdown(): Promise<void> } {
  const server = Deno.serve({ port, hostname, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/metrics") {
      // OpenMetrics (with exemplars linking to traces) when the scraper asks for it.
      const format = negotiateFormat(req.headers.get("accept"));
      return new Response(await source.metricsText(format), {
        headers: { "content-type": CONTENT_TYPES[format] },
      });
    }
    if (path === "/health") {
      const h = await source.health();
      return Response.json(h, { status: h.ok ? 200 : 503 });
    }
    return new Response("Not found: try /metrics or /health\n", { status: 404 });
  });
  return { port: server.addr.port, shutdown: () => server.shutdown() };
}
