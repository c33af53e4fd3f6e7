/**
 * `FlowSyntaxError`: a malformed flow template, with the position and a caret.
 *
 * @module
 */

/**
 * A flow template that cannot be parsed or bound. The message shows the source line with a
 * caret under the offending token.
 *
 * @example Catching a typo
 * ```ts
 * import { flow, FlowSyntaxError } from "@graflow/graflow";
 * try {
 *   flow`doc_missing_task >>`;
 * } catch (error) {
 *   if (!(error instanceof FlowSyntaxError)) throw error;
 * }
 * ```
 */
export class FlowSyntaxError extends SyntaxError {
  /** 1-based line of the offending token. */
  readonly line: number;
  /** 1-based column of the offending token. */
  readonly column: number;
  /** What is wrong, without the position and caret. */
  readonly reason: string;

  /**
   * Creates the instance.
   *
   * @param reason What is wrong.
   * @param source The template source (interpolations shown as `${…}`).
   * @param offset Character offset of the offending token.
   * @param length Length of the token (for the caret).
   */
  constructor(reason: string, source: string, offset: number, length = 1) {
    const before = source.slice(0, offset);
    const line = before.split("\n").length;
    const lineStart = before.lastIndexOf("\n") + 1;
    const column = offset - lineStart + 1;
    const lineEnd = source.indexOf("\n", lineStart);
    const text = source.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
    const caret = " ".repeat(Math.max(0, column - 1)) + "^".repeat(Math.max(1, length));
    super(`Cannot parse flow: ${reason} (line ${line}, column ${column})\n  ${text}\n  ${caret}`);
    this.name = "FlowSyntaxError";
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}
