/**
 * An OTLP/HTTP receiver for the tests: a `Deno.serve` on loopback that accepts `/v1/traces`,
 * `/v1/metrics` and `/v1/logs` as JSON (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) and keeps the
 * spans with their service name, and the names of the metrics.
 *
 * @module
 */

/** A span as received. */
export interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  kind: number;
  attributes: Record<string, unknown>;
  events: string[];
  links: { traceId: string; spanId: string }[];
  status: number;
}

type KeyValue = { key: string; value: Record<string, unknown> };

function value(v: Record<string, unknown>): unknown {
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  return v;
}

function attrs(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value ?? {})]));
}

/** A running receiver. */
export class OtlpReceiver implements AsyncDisposable {
  readonly spans: ReceivedSpan[] = [];
  readonly metricNames = new Set<string>();
  /** Requests that were not JSON (the exporter was not configured for JSON). */
  readonly refused: string[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const path = new URL(req.url).pathname;
      const type = req.headers.get("content-type") ?? "";
      const body = await req.text();
      if (!type.includes("json")) {
        this.refused.push(`${path} ${type}`);
        return new Response("JSON only", { status: 415 });
      }
      const doc = JSON.parse(body);
      if (path === "/v1/traces") this.#traces(doc);
      if (path === "/v1/metrics") {
        for (const rm of doc.resourceMetrics ?? []) {
          for (const sm of rm.scopeMetrics ?? []) {
            for (const m of sm.metrics ?? []) this.metricNames.add(m.name);
          }
        }
      }
      return Response.json({});
    });
  }

  /** `http://127.0.0.1:<port>`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Environment variables that make a Deno process export here. */
  env(service: string): Record<string, string> {
    return {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: this.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: service,
      OTEL_METRIC_EXPORT_INTERVAL: "500",
    };
  }

  // deno-lint-ignore no-explicit-any
  #traces(doc: any): void {
    for (const rs of doc.resourceSpans ?? []) {
      const service = String(attrs(rs.resource?.attributes)["service.name"] ?? "");
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            service,
            name: s.name,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? "",
            kind: s.kind,
            attributes: attrs(s.attributes),
            events: (s.events ?? []).map((e: { name: string }) => e.name),
            links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({
              traceId: l.traceId,
              spanId: l.spanId,
            })),
            status: s.status?.code ?? 0,
          });
        }
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}
