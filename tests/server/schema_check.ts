/**
 * A validator for the JSON Schema subset that `/openapi.json` uses (type, properties, required,
 * additionalProperties: false, items, enum, minimum, maximum, pattern, $ref), and a checker that
 * finds the response schema of a request in the OpenAPI document. An unknown keyword is an
 * error, so that the document cannot use something this validator silently ignores.
 *
 * @module
 */

type Schema = Record<string, unknown>;
const KNOWN = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "enum",
  "minimum",
  "maximum",
  "pattern",
  "$ref",
  "description",
]);

/**
 * Validates a value.
 *
 * @param value The value.
 * @param schema The schema.
 * @param doc The document ($ref targets).
 * @param path Where, for messages.
 * @returns Problems found (empty: valid).
 */
export function validate(value: unknown, schema: Schema, doc: Schema, path = "$"): string[] {
  for (const k of Object.keys(schema)) {
    if (!KNOWN.has(k)) throw new Error(`schema keyword ${k} at ${path} is not supported`);
  }
  if (schema.$ref) {
    const target = String(schema.$ref).replace(/^#\//, "").split("/")
      .reduce((o: Schema, k) => o?.[k] as Schema, doc);
    if (!target) return [`${path}: unresolved ${schema.$ref}`];
    return validate(value, target, doc, path);
  }
  const out: string[] = [];
  const type = schema.type as string | undefined;
  const actual = value === null
    ? "null"
    : Array.isArray(value)
    ? "array"
    : Number.isInteger(value)
    ? "integer"
    : typeof value;
  if (type) {
    const ok = type === actual || (type === "number" && actual === "integer");
    if (!ok) return [`${path}: expected ${type}, got ${actual}`];
  }
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) {
    out.push(`${path}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < (schema.minimum as number)) {
      out.push(`${path}: < minimum`);
    }
    if (schema.maximum !== undefined && value > (schema.maximum as number)) {
      out.push(`${path}: > maximum`);
    }
  }
  if (
    typeof value === "string" && schema.pattern && !new RegExp(schema.pattern as string).test(value)
  ) {
    out.push(`${path}: does not match ${schema.pattern}`);
  }
  if (actual === "object" && (schema.properties || schema.required)) {
    const o = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) {
      if (!(r in o)) out.push(`${path}: missing ${r}`);
    }
    for (const [k, v] of Object.entries(o)) {
      if (props[k]) out.push(...validate(v, props[k], doc, `${path}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${path}: unexpected property ${k}`);
    }
  }
  if (actual === "array" && schema.items) {
    (value as unknown[]).forEach((v, i) =>
      out.push(...validate(v, schema.items as Schema, doc, `${path}[${i}]`))
    );
  }
  return out;
}

/**
 * Checks a response against the document: the path and method exist, the status is documented,
 * and a JSON body matches the documented schema.
 *
 * @param doc The OpenAPI document.
 * @param method The request's method.
 * @param pathname The request's path.
 * @param status The response's status.
 * @param body The parsed JSON body (undefined for other media types).
 * @returns Problems found.
 */
export function checkResponse(
  doc: Schema,
  method: string,
  pathname: string,
  status: number,
  body: unknown,
): string[] {
  const paths = doc.paths as Record<string, Record<string, Schema>>;
  const template = Object.keys(paths).find((t) =>
    new RegExp(`^${t.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}$`).test(pathname)
  );
  if (!template) return [`${method} ${pathname}: not in the document`];
  const op = paths[template][method.toLowerCase()];
  if (!op) return [`${method} ${template}: method not in the document`];
  const responses = op.responses as Record<string, Schema>;
  let r = responses[String(status)];
  if (!r) return [`${method} ${template}: status ${status} not documented`];
  if (r.$ref) {
    r = String(r.$ref).replace(/^#\//, "").split("/").reduce((o: Schema, k) => o[k] as Schema, doc);
  }
  const schema = ((r.content as Record<string, Schema>)?.["application/json"])?.schema as Schema;
  if (body === undefined || !schema) return [];
  return validate(body, schema, doc).map((p) => `${method} ${template} ${status}: ${p}`);
}
