/**
 * Lexer and parser of the flow DSL.
 *
 * ```
 * flow  := stmt ((NEWLINE | ';') stmt)*
 * stmt  := chain ('|' chain)*
 * chain := atom ('>>' atom)*
 * atom  := NAME | ${Task | Flow | Group} | '(' stmt ')'
 * ```
 *
 * Newlines inside parentheses and after an operator continue the statement.
 *
 * @module
 */
import { FlowSyntaxError } from "./flow_syntax_error.ts";

/** A parsed template. */
export type Ast =
  | { kind: "name"; name: string; offset: number; length: number }
  | { kind: "interp"; index: number; offset: number; length: number }
  | { kind: "seq"; items: Ast[]; offset: number }
  | { kind: "par"; items: Ast[]; offset: number };

/** A parsed template: statements and the source used in error messages. */
export interface Program {
  statements: Ast[];
  source: string;
}

type TokenType = "name" | "interp" | ">>" | "|" | "(" | ")" | "sep" | "eof";
interface Token {
  type: TokenType;
  value: string;
  offset: number;
  index?: number;
}

/** How interpolations appear in error messages. */
export const PLACEHOLDER = "${…}";

/** Deepest nesting of parentheses accepted (the parser is recursive). */
const MAX_NESTING = 256;

const NAME_START = /[A-Za-z_]/;
const NAME_PART = /[A-Za-z0-9_.-]/;

function lex(strings: readonly string[], source: string): Token[] {
  const tokens: Token[] = [];
  let offset = 0;
  let depth = 0;
  for (let s = 0; s < strings.length; s++) {
    const text = strings[s];
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      const at = offset + i;
      if (c === " " || c === "\t" || c === "\r") {
        i++;
      } else if (c === "\n" || c === ";") {
        if (depth === 0 || c === ";") tokens.push({ type: "sep", value: c, offset: at });
        i++;
      } else if (c === ">" && text[i + 1] === ">") {
        tokens.push({ type: ">>", value: ">>", offset: at });
        i += 2;
      } else if (c === "|") {
        tokens.push({ type: "|", value: "|", offset: at });
        i++;
      } else if (c === "(") {
        if (++depth > MAX_NESTING) {
          throw new FlowSyntaxError(
            `groups nested too deeply (more than ${MAX_NESTING} levels of '(')`,
            source,
            at,
          );
        }
        tokens.push({ type: "(", value: "(", offset: at });
        i++;
      } else if (c === ")") {
        depth = Math.max(0, depth - 1);
        tokens.push({ type: ")", value: ")", offset: at });
        i++;
      } else if (NAME_START.test(c)) {
        let j = i + 1;
        while (j < text.length && NAME_PART.test(text[j])) j++;
        tokens.push({ type: "name", value: text.slice(i, j), offset: at });
        i = j;
      } else {
        const what = c === ">" ? "'>' (did you mean '>>'?)" : `character ${JSON.stringify(c)}`;
        throw new FlowSyntaxError(`unexpected ${what}`, source, at);
      }
    }
    offset += text.length;
    if (s < strings.length - 1) {
      tokens.push({ type: "interp", value: PLACEHOLDER, offset, index: s });
      offset += PLACEHOLDER.length;
    }
  }
  tokens.push({ type: "eof", value: "end of flow", offset: source.length });
  return tokens;
}

function describe(t: Token): string {
  if (t.type === "eof") return "the end of the flow";
  if (t.type === "sep") return t.value === ";" ? "';'" : "the end of the line";
  if (t.type === "name") return `"${t.value}"`;
  if (t.type === "interp") return "an interpolation";
  return `'${t.value}'`;
}

/**
 * Parses a template.
 *
 * @param strings The template strings.
 * @returns The program.
 * @throws {FlowSyntaxError} When the template is malformed.
 */
export function parse(strings: readonly string[]): Program {
  const source = strings.join(PLACEHOLDER);
  const tokens = lex(strings, source);
  let pos = 0;
  const peek = () => tokens[pos];
  const skipNewlines = () => {
    while (tokens[pos].type === "sep" && tokens[pos].value === "\n") pos++;
  };

  const atom = (after: Token | undefined): Ast => {
    const t = peek();
    switch (t.type) {
      case "name":
        pos++;
        return { kind: "name", name: t.value, offset: t.offset, length: t.value.length };
      case "interp":
        pos++;
        return { kind: "interp", index: t.index!, offset: t.offset, length: PLACEHOLDER.length };
      case "(": {
        pos++;
        if (peek().type === ")") {
          throw new FlowSyntaxError("empty group '()'", source, t.offset, 2);
        }
        const inner = stmt();
        if (peek().type !== ")") {
          const found = peek();
          if (found.type === "eof" || found.type === "sep") {
            throw new FlowSyntaxError("unclosed '(': expected ')'", source, t.offset);
          }
          throw new FlowSyntaxError(
            `expected ')' but found ${describe(found)}`,
            source,
            found.offset,
            found.value.length,
          );
        }
        pos++;
        return inner;
      }
      default: {
        if (after) {
          throw new FlowSyntaxError(
            `expected a task after '${after.value}' but found ${describe(t)}`,
            source,
            after.offset,
            after.value.length,
          );
        }
        if (t.type === ">>" || t.type === "|") {
          throw new FlowSyntaxError(
            `expected a task before '${t.value}'`,
            source,
            t.offset,
            t.value.length,
          );
        }
        if (t.type === ")") throw new FlowSyntaxError("unmatched ')'", source, t.offset);
        throw new FlowSyntaxError(`expected a task but found ${describe(t)}`, source, t.offset);
      }
    }
  };

  const chain = (): Ast => {
    const first = atom(undefined);
    if (peek().type !== ">>") return first;
    const items = [first];
    while (peek().type === ">>") {
      const op = tokens[pos++];
      skipNewlines();
      items.push(atom(op));
    }
    return { kind: "seq", items, offset: first.offset };
  };

  const stmt = (): Ast => {
    const first = chain();
    if (peek().type !== "|") return first;
    const items = [first];
    while (peek().type === "|") {
      const op = tokens[pos++];
      skipNewlines();
      items.push(((t) => {
        if (
          t.type === ">>" || t.type === "|" || t.type === ")" || t.type === "eof" ||
          t.type === "sep"
        ) {
          return atom(op);
        }
        return chain();
      })(peek()));
    }
    return { kind: "par", items, offset: first.offset };
  };

  const statements: Ast[] = [];
  while (peek().type === "sep") pos++;
  while (peek().type !== "eof") {
    statements.push(stmt());
    const t = peek();
    if (t.type === ")") throw new FlowSyntaxError("unmatched ')'", source, t.offset);
    if (t.type !== "sep" && t.type !== "eof") {
      throw new FlowSyntaxError(
        `expected '>>', '|', a new line or ';' but found ${describe(t)}`,
        source,
        t.offset,
        t.value.length,
      );
    }
    while (peek().type === "sep") pos++;
  }
  if (statements.length === 0) {
    throw new FlowSyntaxError("empty flow: write at least one task", source, 0);
  }
  return { statements, source };
}
