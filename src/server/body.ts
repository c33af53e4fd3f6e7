/**
 * Reading request bodies with a size limit: `Content-Length` above the limit is refused before
 * reading, and a chunked body is counted while it streams (413 either way); JSON that does not
 * parse is a 400 naming the position; a form body is read the same way.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

/**
 * Reads a request's body as text, at most `limit` bytes.
 *
 * @param request The request.
 * @param limit The largest body accepted, in bytes.
 * @returns The text.
 * @throws {HttpError} 413 `BODY_TOO_LARGE`.
 */
export async function readText(request: Request, limit: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(
      413,
      "BODY_TOO_LARGE",
      `Cannot read the request: its body exceeds ${limit} bytes`,
    );
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw new HttpError(400, "BAD_ENCODING", "Cannot read the request: its body is not UTF-8");
  }
}

/**
 * Reads a JSON object body (an empty body is `{}`).
 *
 * @param request The request.
 * @param limit The largest body accepted, in bytes.
 * @returns The object.
 * @throws {HttpError} 413 when too large, 415 when not JSON, 400 when malformed or not an object.
 */
export async function readJson(request: Request, limit: number): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type") ?? "";
  const text = await readText(request, limit);
  if (text.trim() === "") return {};
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new HttpError(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      `Cannot read the request: its body must be JSON (Content-Type: application/json), got ${
        JSON.stringify(type.slice(0, 80))
      }`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(
      400,
      "BAD_JSON",
      `Cannot read the request: its body is not valid JSON (${(error as Error).message})`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HttpError(400, "BAD_JSON", "Cannot read the request: its body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * Reads an `application/x-www-form-urlencoded` body (dashboard forms).
 *
 * @param request The request.
 * @param limit The largest body accepted, in bytes.
 * @returns The fields.
 * @throws {HttpError} 413 when too large, 415 when not a form.
 */
export async function readForm(request: Request, limit: number): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  const text = await readText(request, limit);
  if (text !== "" && !/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new HttpError(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      "Cannot read the form: it must be urlencoded",
    );
  }
  return new URLSearchParams(text);
}
