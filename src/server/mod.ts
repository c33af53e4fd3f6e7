/**
 * The operations server: a JSON HTTP API described by `/openapi.json` (runs: list, get, start a
 * registered flow, cancel, retry, live events by Server-Sent Events; feedback requests: list,
 * get, answer, cancel), a web dashboard on the same port (`/ui/`: runs, a run's executed graph
 * and task timeline updating live, the human-in-the-loop inbox), `/health`, and notifications of
 * new feedback requests (signed webhooks, Slack). Bearer tokens with roles `viewer` and
 * `operator`; nothing that changes state is reachable without an operator token.
 *
 * ```ts ignore
 * import { localRunStore } from "@graflow/graflow";
 * import { serve } from "@graflow/graflow/server";
 * await using store = localRunStore({ dir: ".graflow" });
 * await using server = await serve({
 *   store,
 *   tokens: Deno.env.get("GRAFLOW_TOKENS")!, // "ana:operator:<secret>,ci:viewer:<secret>"
 *   orchestrate: true,                        // run queued and answered runs in this process
 * });
 * ```
 *
 * The CLI: `graflow serve --store .graflow --module ./flows.ts --orchestrate`.
 *
 * ## API
 *
 * | method and path | role | what |
 * | --- | --- | --- |
 * | `GET /health` | none | `{ status: "ok", store }` (503 when the store cannot be read) |
 * | `GET /openapi.json` | none | the OpenAPI 3.1 document |
 * | `GET /flows` | viewer | flows that can be started |
 * | `GET /runs?status=&flow=&since=&limit=&cursor=` | viewer | runs, newest first; `cursor` for the next page |
 * | `POST /runs` `{ flow, input?, idempotencyKey? }` | operator | a queued run (201; 200 with the key's existing run) |
 * | `GET /runs/{id}` | viewer | record, attempts with timings, steps, executed graph, error with causes, feedback, notifications |
 * | `GET /runs/{id}/steps/{step}` | viewer | one execution: input, output, error |
 * | `GET /runs/{id}/graph.svg` | viewer | the executed graph as SVG |
 * | `POST /runs/{id}/cancel`, `/retry` | operator | cancel; retry a failed run |
 * | `GET /runs/events`, `/runs/{id}/events` | viewer | Server-Sent Events: `run`, `journal`, `feedback`, `notification` |
 * | `GET /feedback?pending=&runId=&limit=` | viewer | feedback requests |
 * | `GET /feedback/{id}` | viewer | one request |
 * | `POST /feedback/{id}/answer` `{ approved }` / `{ text }` / `{ selected }` | operator | answers; `respondedBy` is the token's name |
 * | `POST /feedback/{id}/cancel` `{ reason? }` | operator | cancels the request |
 * | `GET /notifications?runId=` | viewer | recent notification deliveries |
 *
 * Errors are `{ status, code, message }`: 400 (bad query, id, JSON, token in the URL), 401 (no
 * or unknown token), 403 (viewer on a state change, another origin, missing CSRF token), 404,
 * 409 (already answered, run finished, not failed), 413 (body over `maxBodyBytes`), 415, 422
 * (an answer or body of the wrong shape).
 *
 * ## Security
 *
 * Tokens travel only in `Authorization: Bearer`; a URL with a token-like query parameter is
 * refused. Tokens are compared in constant time and never logged. The dashboard's session is a
 * signed HttpOnly, SameSite=Strict cookie (not the token); its forms carry a CSRF token, and
 * state changes must come from the same origin. Every page has a strict Content-Security-Policy
 * (no inline script or style, no other origin); assets are served from a table by exact name.
 *
 * @module
 */
export { GraflowServer, serve, type ServeOptions, type ServerEvent } from "./serve.ts";
export { parseTokens, type Principal, type Role, type TokenSpec } from "./tokens.ts";
export {
  type Delivery,
  type NotifyOptions,
  type NotifyTarget,
  webhookSignature,
} from "./notifier.ts";
export type { ErrorBody } from "./http_error.ts";
export { openApiDocument } from "./openapi.ts";
