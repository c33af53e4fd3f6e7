/**
 * The errors of the HTTP API: every bad request is answered with a JSON body
 * `{ status, code, message }` (the same shape for every endpoint, described by `/openapi.json`),
 * and store errors are mapped to statuses by their `code`.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";

/** The JSON body of every error response. */
export interface ErrorBody {
  /** The HTTP status. */
  status: number;
  /** A stable, machine-readable code (`RUN_NOT_FOUND`, `FORBIDDEN`, ...). */
  code: string;
  /** What was wrong, for people. */
  message: string;
}

/** An error that becomes an HTTP response with a JSON body. */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The machine-readable code. */
  readonly code: string;

  /**
   * @param status The HTTP status.
   * @param code The machine-readable code.
   * @param message What was wrong.
   */
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
  }

  /**
   * The JSON body.
   *
   * @returns `{ status, code, message }`.
   */
  body(): ErrorBody {
    return { status: this.status, code: this.code, message: this.message };
  }
}

/** HTTP statuses of the store's error codes. */
const STATUS_OF_CODE: Record<string, number> = {
  RUN_NOT_FOUND: 404,
  FEEDBACK_NOT_FOUND: 404,
  RUN_FINISHED: 409,
  RUN_NOT_FAILED: 409,
  RUN_EXISTS: 409,
  FEEDBACK_ALREADY_ANSWERED: 409,
  FEEDBACK_CANCELLED: 409,
  STORE_CLOSED: 503,
};

/**
 * The HTTP error for anything thrown while handling a request: an {@linkcode HttpError} as is,
 * a store error by its code, a caller's `TypeError`/`RangeError` (a bad filter) as 400, anything
 * else as 500 with a generic message (details go to the server's log, never to the client).
 *
 * @param error What was thrown.
 * @returns The error to send.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof WorkflowError && STATUS_OF_CODE[error.code] !== undefined) {
    return new HttpError(STATUS_OF_CODE[error.code], error.code, error.message);
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    return new HttpError(400, "BAD_REQUEST", error.message);
  }
  return new HttpError(
    500,
    "INTERNAL",
    "Cannot handle the request: the server failed (see its log)",
  );
}

/**
 * A JSON response.
 *
 * @param body The body (JSON-serialisable).
 * @param status The HTTP status.
 * @param headers More headers.
 * @returns The response.
 */
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status, headers: h });
}
