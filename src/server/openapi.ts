/**
 * The OpenAPI 3.1 document of the API (served at `/openapi.json`). Tests validate real responses
 * against its schemas.
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };

type Schema = Record<string, unknown>;
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str: Schema = { type: "string" };
const int: Schema = { type: "integer" };
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: "object",
  properties,
  required,
});

const STATUS = ["queued", "running", "waiting", "completed", "failed", "cancelled", "terminated"];

const schemas: Record<string, Schema> = {
  Error: {
    ...obj({ status: int, code: str, message: str }, ["status", "code", "message"]),
    additionalProperties: false,
  },
  ErrorRecord: obj({
    name: str,
    message: str,
    code: str,
    stack: str,
    props: { type: "object" },
    cause: ref("ErrorRecord"),
  }, ["name", "message"]),
  Run: obj({
    runId: str,
    flow: str,
    version: str,
    status: { type: "string", enum: STATUS },
    input: {},
    output: {},
    error: ref("ErrorRecord"),
    createdAt: str,
    startedAt: str,
    updatedAt: str,
    finishedAt: str,
    durationMs: int,
    owner: str,
    leaseUntil: int,
    fence: int,
    idempotencyKey: str,
    steps: int,
    checkpoints: { type: "array", items: str },
    feedback: obj({ id: str, checkpoint: str }, ["id"]),
    cancelRequested: { type: "boolean" },
    retryRequested: { type: "boolean" },
  }, [
    "runId",
    "flow",
    "version",
    "status",
    "createdAt",
    "updatedAt",
    "fence",
    "steps",
    "checkpoints",
  ]),
  RunPage: obj({ runs: { type: "array", items: ref("Run") }, cursor: str }, ["runs"]),
  RunEnvelope: obj({ run: ref("Run") }, ["run"]),
  StartRun: {
    ...obj({ flow: str, input: {}, idempotencyKey: str }, ["flow"]),
    additionalProperties: false,
  },
  Started: obj({ run: ref("Run"), created: { type: "boolean" } }, ["run", "created"]),
  Attempt: obj({
    step: int,
    taskId: str,
    attempt: int,
    startedAt: int,
    endedAt: int,
    status: { type: "string", enum: ["running", "succeeded", "failed", "retried"] },
    error: ref("ErrorRecord"),
  }, ["step", "taskId", "attempt", "startedAt", "status"]),
  Step: obj({
    step: int,
    taskId: str,
    status: { type: "string", enum: ["running", "succeeded", "failed"] },
    attempts: int,
    error: ref("ErrorRecord"),
  }, ["step", "taskId", "status", "attempts"]),
  StepDetail: obj({
    step: int,
    taskId: str,
    status: { type: "string", enum: ["running", "succeeded", "failed"] },
    attempts: { type: "array", items: ref("Attempt") },
    input: {},
    output: {},
    error: ref("ErrorRecord"),
  }, ["step", "taskId", "status", "attempts"]),
  Graph: obj({
    nodes: {
      type: "array",
      items: obj({
        id: str,
        group: str,
        status: {
          type: "string",
          enum: ["pending", "running", "retrying", "succeeded", "failed", "waiting"],
        },
        count: int,
        dynamic: { type: "boolean" },
      }, ["id", "status", "count", "dynamic"]),
    },
    groups: {
      type: "array",
      items: obj({ id: str, parent: str, policy: str, members: { type: "array", items: str } }, [
        "id",
        "members",
      ]),
    },
    edges: {
      type: "array",
      items: obj({ from: str, to: str, kind: str, count: int }, ["from", "to", "kind", "count"]),
    },
  }, ["nodes", "groups", "edges"]),
  RunDetails: obj({
    run: ref("Run"),
    error: ref("ErrorRecord"),
    attempts: { type: "array", items: ref("Attempt") },
    steps: { type: "array", items: ref("Step") },
    graph: ref("Graph"),
    graphNote: str,
    checkpoints: { type: "array", items: str },
    feedback: { type: "array", items: ref("Feedback") },
    notifications: { type: "array", items: ref("Delivery") },
  }, ["run", "attempts", "steps", "checkpoints", "feedback", "notifications"]),
  FeedbackRequest: obj({
    type: { type: "string", enum: ["approval", "text", "selection"] },
    prompt: str,
    options: { type: "array", items: str },
    timeoutMs: { type: "number" },
    metadata: { type: "object" },
  }, ["type", "prompt"]),
  Feedback: obj({
    id: str,
    runId: str,
    taskId: str,
    request: ref("FeedbackRequest"),
    createdAt: str,
    state: { type: "string", enum: ["pending", "answered", "cancelled"] },
    response: obj({
      approved: { type: "boolean" },
      text: str,
      selected: str,
      respondedBy: str,
      respondedAt: str,
    }, ["respondedAt"]),
    cancelled: obj({ at: str, by: str, reason: str }, ["at"]),
  }, ["id", "runId", "taskId", "request", "createdAt", "state"]),
  FeedbackEnvelope: obj({ request: ref("Feedback") }, ["request"]),
  FeedbackList: obj({ requests: { type: "array", items: ref("Feedback") } }, ["requests"]),
  Answer: {
    ...obj({ approved: { type: "boolean" }, text: str, selected: str }),
    additionalProperties: false,
  },
  CancelFeedback: { ...obj({ reason: str }), additionalProperties: false },
  Delivery: obj({
    runId: str,
    feedbackId: str,
    target: str,
    attempt: int,
    ok: { type: "boolean" },
    status: int,
    error: str,
    final: { type: "boolean" },
    at: str,
  }, ["runId", "feedbackId", "target", "attempt", "ok", "final", "at"]),
  Deliveries: obj({ deliveries: { type: "array", items: ref("Delivery") } }, ["deliveries"]),
  Flows: obj({
    flows: {
      type: "array",
      items: obj({ name: str, version: str, tasks: { type: "array", items: str } }, [
        "name",
        "version",
        "tasks",
      ]),
    },
  }, ["flows"]),
  Health: obj({ status: str, store: str, clients: int }, ["status", "store"]),
};

const errors = (...codes: number[]): Record<string, Schema> =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/E${c}` }]));
const ok = (schema: string, status = "200"): Record<string, Schema> => ({
  [status]: {
    description: "OK",
    content: { "application/json": { schema: ref(schema) } },
  },
});
const body = (schema: string, required = true): Schema => ({
  required,
  content: { "application/json": { schema: ref(schema) } },
});
const pathId = (name: string): Schema => ({
  name,
  in: "path",
  required: true,
  schema: { type: "string", pattern: "^[A-Za-z0-9_.:-]{1,256}$" },
});
const query = (name: string, schema: Schema, description: string): Schema => ({
  name,
  in: "query",
  schema,
  description,
});
const sse = {
  "200": {
    description: "Server-Sent Events: run, journal, feedback, notification",
    content: { "text/event-stream": { schema: str } },
  },
};
const viewer = [{ bearer: [] }];

/**
 * The OpenAPI 3.1 document.
 *
 * @returns The document (a fresh object).
 */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "Graflow operations API",
      version: config.version,
      description: "Runs, human-in-the-loop requests and live events of a Graflow run store. " +
        "Bearer tokens: viewer (read) or operator (read and change). Errors: { status, code, message }.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas,
      responses: Object.fromEntries(
        [400, 401, 403, 404, 409, 413, 415, 422, 503].map((c) => [
          `E${c}`,
          {
            description: `Error ${c}`,
            content: { "application/json": { schema: ref("Error") } },
          },
        ]),
      ),
    },
    security: viewer,
    paths: {
      "/health": {
        get: {
          summary: "Liveness and store reachability",
          security: [],
          responses: { ...ok("Health"), ...errors(503) },
        },
      },
      "/metrics": {
        get: {
          summary: "Run, task and feedback metrics: Prometheus text, or OpenMetrics with exemplars",
          responses: {
            "200": {
              description: "OK",
              content: {
                "text/plain; version=0.0.4": { schema: { type: "string" } },
                "application/openmetrics-text; version=1.0.0": { schema: { type: "string" } },
              },
            },
            ...errors(401),
          },
        },
      },
      "/flows": {
        get: {
          summary: "Flows that can be started",
          responses: { ...ok("Flows"), ...errors(401) },
        },
      },
      "/runs": {
        get: {
          summary: "List runs, newest first",
          parameters: [
            query("status", { type: "string" }, "Comma-separated statuses"),
            query("flow", str, "Flow name"),
            query("since", str, "ISO time or epoch ms"),
            query(
              "limit",
              { type: "integer", minimum: 1, maximum: 1000 },
              "Page size (default 50)",
            ),
            query("cursor", str, "From the previous page"),
          ],
          responses: { ...ok("RunPage"), ...errors(400, 401) },
        },
        post: {
          summary: "Start a registered flow (operator)",
          requestBody: body("StartRun"),
          responses: {
            ...ok("Started", "201"),
            ...ok("Started"),
            ...errors(400, 401, 403, 404, 413, 415, 422),
          },
        },
      },
      "/runs/events": {
        get: { summary: "Live events of every run", responses: { ...sse, ...errors(401) } },
      },
      "/runs/{id}": {
        get: {
          summary: "A run: attempts, steps, executed graph, feedback, notifications",
          parameters: [pathId("id")],
          responses: { ...ok("RunDetails"), ...errors(400, 401, 404) },
        },
      },
      "/runs/{id}/steps/{step}": {
        get: {
          summary: "One task execution: input, output, error",
          parameters: [pathId("id"), { name: "step", in: "path", required: true, schema: int }],
          responses: { ...ok("StepDetail"), ...errors(400, 401, 404) },
        },
      },
      "/runs/{id}/graph.svg": {
        get: {
          summary: "The executed graph as SVG",
          parameters: [pathId("id")],
          responses: {
            "200": { description: "SVG", content: { "image/svg+xml": { schema: str } } },
            ...errors(400, 401, 404),
          },
        },
      },
      "/runs/{id}/events": {
        get: {
          summary: "Live events of one run",
          parameters: [pathId("id")],
          responses: { ...sse, ...errors(400, 401, 404) },
        },
      },
      "/runs/{id}/cancel": {
        post: {
          summary: "Cancel a run (operator)",
          parameters: [pathId("id")],
          responses: { ...ok("RunEnvelope"), ...errors(400, 401, 403, 404, 409, 413) },
        },
      },
      "/runs/{id}/retry": {
        post: {
          summary: "Retry a failed run from its failed tasks (operator)",
          parameters: [pathId("id")],
          responses: { ...ok("RunEnvelope"), ...errors(400, 401, 403, 404, 409, 413) },
        },
      },
      "/feedback": {
        get: {
          summary: "Feedback requests, newest first",
          parameters: [
            query("pending", { type: "boolean" }, "Only unanswered requests"),
            query("runId", str, "Only this run's"),
            query("limit", { type: "integer", minimum: 1, maximum: 1000 }, "At most (default 100)"),
          ],
          responses: { ...ok("FeedbackList"), ...errors(400, 401) },
        },
      },
      "/feedback/{id}": {
        get: {
          summary: "A feedback request",
          parameters: [pathId("id")],
          responses: { ...ok("FeedbackEnvelope"), ...errors(400, 401, 404) },
        },
      },
      "/feedback/{id}/answer": {
        post: {
          summary: "Answer a request (operator; respondedBy is the token's name)",
          parameters: [pathId("id")],
          requestBody: body("Answer"),
          responses: {
            ...ok("FeedbackEnvelope"),
            ...errors(400, 401, 403, 404, 409, 413, 415, 422),
          },
        },
      },
      "/feedback/{id}/cancel": {
        post: {
          summary: "Cancel a request (operator)",
          parameters: [pathId("id")],
          requestBody: body("CancelFeedback", false),
          responses: {
            ...ok("FeedbackEnvelope"),
            ...errors(400, 401, 403, 404, 409, 413, 415, 422),
          },
        },
      },
      "/notifications": {
        get: {
          summary: "Recent notification delivery attempts",
          parameters: [query("runId", str, "Only this run's")],
          responses: { ...ok("Deliveries"), ...errors(401) },
        },
      },
    },
  };
}
