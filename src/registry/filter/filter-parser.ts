import { SkalaError } from "../../core/index.js";

/** Attributes of a version (or of its model) that a filter can name directly. */
export type StringAttribute = "runtime" | "status" | "created_at" | "model" | "fleet" | "run_id";
export type FilterAttribute = "version" | StringAttribute;

/** Fields whose values are numbers: metrics (any finite number) and `version` (a 32-bit integer). */
export type NumericField =
  | { readonly kind: "metric"; readonly key: string }
  | { readonly kind: "attribute"; readonly name: "version" };

/** Fields whose values are strings. */
export type StringField =
  | { readonly kind: "tag"; readonly key: string }
  | { readonly kind: "param"; readonly key: string }
  | { readonly kind: "attribute"; readonly name: StringAttribute };

export type FilterField = NumericField | StringField;

export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=";

/**
 * A comparison. The field decides the value's type, so a numeric field never carries a string value and the
 * compiler binds values without checking them again.
 */
export type ComparisonNode =
  | {
      readonly kind: "compare";
      readonly field: NumericField;
      readonly op: ComparisonOperator;
      readonly value: number;
    }
  | {
      readonly kind: "compare";
      readonly field: StringField;
      readonly op: ComparisonOperator;
      readonly value: string;
    };

export type InNode =
  | { readonly kind: "in"; readonly field: NumericField; readonly values: readonly number[] }
  | { readonly kind: "in"; readonly field: StringField; readonly values: readonly string[] };

/** `field like pattern`: `%` and `_` are wildcards, `\` escapes them; matching ignores ASCII case. */
export interface LikeNode {
  readonly kind: "like";
  readonly field: StringField;
  readonly pattern: string;
}

/** `and`/`or` hold two or more operands; the parser flattens `a and b and c` into one node. */
export type FilterExpression =
  | { readonly kind: "and"; readonly operands: readonly FilterExpression[] }
  | { readonly kind: "or"; readonly operands: readonly FilterExpression[] }
  | { readonly kind: "not"; readonly operand: FilterExpression }
  | ComparisonNode
  | InNode
  | LikeNode;

/** Limits that keep a hostile filter from costing more than a reasonable one (each breach is FILTER_INVALID). */
export const FILTER_LIMITS = {
  /** characters in the filter text */
  maxLength: 4096,
  /** nested `not` and parentheses */
  maxDepth: 32,
  /** comparisons (`=`, `in`, `like`, …) in one filter */
  maxComparisons: 64,
} as const;

export const FILTER_ATTRIBUTES: readonly FilterAttribute[] = [
  "version",
  "runtime",
  "status",
  "created_at",
  "model",
  "fleet",
  "run_id",
];

const KEY_PREFIXES = { "metrics.": "metric", "params.": "param", "tags.": "tag" } as const;

export function isNumericField(field: FilterField): field is NumericField {
  return field.kind === "metric" || (field.kind === "attribute" && field.name === "version");
}

type Token =
  | { readonly kind: "word"; readonly text: string; readonly start: number; readonly end: number }
  | { readonly kind: "quoted-key"; readonly value: string; readonly start: number; readonly end: number }
  | { readonly kind: "string"; readonly value: string; readonly start: number; readonly end: number }
  | { readonly kind: "number"; readonly value: number; readonly start: number; readonly end: number }
  | { readonly kind: "op"; readonly op: ComparisonOperator; readonly start: number; readonly end: number }
  | { readonly kind: "punct"; readonly char: "(" | ")" | ","; readonly start: number; readonly end: number }
  // A character that starts no token; the parser reports it with what it expected there instead.
  | { readonly kind: "unknown"; readonly start: number; readonly end: number }
  | { readonly kind: "end"; readonly start: number; readonly end: number };

const WORD_START = /[A-Za-z_]/;
const WORD_CHAR = /[A-Za-z0-9_\-.:/]/;
// Deliberately no leading "+" and no Infinity/NaN: a metric threshold is always a plain finite number.
const NUMBER = /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/y;
const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\",
  '"': '"',
  "'": "'",
  "`": "`",
  n: "\n",
  r: "\r",
  t: "\t",
};
const ESCAPE_LIST = "\\\\ \\\" \\' \\` \\n \\r \\t \\uXXXX";
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function invalid(position: number, message: string, expected?: string): SkalaError {
  const text =
    expected === undefined
      ? `${message} at position ${position}`
      : `${message} at position ${position}: expected ${expected}`;
  return new SkalaError(
    "FILTER_INVALID",
    text,
    expected === undefined ? { position } : { position, expected },
  );
}

/** Reads tokens on demand, so that the error reported is always the leftmost one in the text. */
class Lexer {
  private position = 0;
  private lookahead: Token | undefined;

  constructor(readonly text: string) {}

  peek(): Token {
    this.lookahead ??= this.scan();
    return this.lookahead;
  }

  next(): Token {
    const token = this.peek();
    this.lookahead = undefined;
    return token;
  }

  private scan(): Token {
    const text = this.text;
    while (this.position < text.length && /\s/.test(text[this.position] ?? "")) this.position++;
    const start = this.position;
    const char = text[start];
    if (char === undefined) return { kind: "end", start, end: start };
    const following = text[start + 1];
    if (char === "(" || char === ")" || char === ",") {
      this.position++;
      return { kind: "punct", char, start, end: this.position };
    }
    if (char === "=" || char === "<" || char === ">" || char === "!") {
      const twoChars = following === "=" && char !== "=";
      if (char === "!" && !twoChars) {
        this.position++;
        return { kind: "unknown", start, end: this.position };
      }
      this.position += twoChars ? 2 : 1;
      return {
        kind: "op",
        op: (twoChars ? `${char}=` : char) as ComparisonOperator,
        start,
        end: this.position,
      };
    }
    if (char === '"' || char === "'") {
      const value = this.quoted(char, "string");
      return { kind: "string", value, start, end: this.position };
    }
    if (char === "`") {
      const value = this.quoted(char, "key");
      return { kind: "quoted-key", value, start, end: this.position };
    }
    if (WORD_START.test(char)) {
      let end = start + 1;
      while (end < text.length && WORD_CHAR.test(text[end] ?? "")) end++;
      this.position = end;
      return { kind: "word", text: text.slice(start, end), start, end };
    }
    NUMBER.lastIndex = start;
    const number = NUMBER.exec(text);
    if (number) {
      const end = start + number[0].length;
      if (end < text.length && WORD_CHAR.test(text[end] ?? "")) {
        let stop = end;
        while (stop < text.length && WORD_CHAR.test(text[stop] ?? "")) stop++;
        throw invalid(start, `malformed number "${show(text.slice(start, stop))}"`);
      }
      const value = Number(number[0]);
      if (!Number.isFinite(value)) throw invalid(start, `number ${number[0]} is out of range`);
      this.position = end;
      // -0 and 0 select the same rows; keeping one spelling makes ASTs comparable.
      return { kind: "number", value: value === 0 ? 0 : value, start, end };
    }
    this.position += String.fromCodePoint(text.codePointAt(start) ?? 0).length;
    return { kind: "unknown", start, end: this.position };
  }

  /** Reads a quoted string or key starting at the current position, with backslash escapes. */
  private quoted(quote: string, what: string): string {
    const text = this.text;
    const start = this.position;
    let value = "";
    let i = start + 1;
    while (i < text.length) {
      const char = text[i] as string;
      if (char === quote) {
        this.position = i + 1;
        return value;
      }
      if (char === "\0") throw invalid(i, `NUL character in ${what}`);
      if (char !== "\\") {
        value += char;
        i++;
        continue;
      }
      const escaped = text[i + 1];
      if (escaped === undefined) break;
      if (escaped === "u") {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9A-Fa-f]{4}$/.test(hex))
          throw invalid(i, "malformed escape \\u", "four hex digits after \\u");
        const code = Number.parseInt(hex, 16);
        // PostgreSQL text cannot hold NUL; refusing it here keeps both databases answering the same.
        if (code === 0) throw invalid(i, `NUL character in ${what}`);
        value += String.fromCharCode(code);
        i += 6;
        continue;
      }
      const replacement = ESCAPES[escaped];
      if (replacement === undefined) {
        throw invalid(i, `unknown escape "\\${show(escaped)}"`, `one of ${ESCAPE_LIST}`);
      }
      value += replacement;
      i += 2;
    }
    throw invalid(start, `unterminated ${what}`, `a closing ${quote}`);
  }
}

/** True when a like pattern ends in an odd number of backslashes, i.e. in an escape with nothing to escape. */
export function endsWithLoneEscape(pattern: string): boolean {
  let count = 0;
  while (count < pattern.length && pattern[pattern.length - 1 - count] === "\\") count++;
  return count % 2 === 1;
}

/** Filter text quoted for a message: shortened, with control characters made visible. */
function show(text: string): string {
  const short = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  let shown = "";
  for (const char of short) {
    shown +=
      char < " " || char === "\u007f" ? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}` : char;
  }
  return shown;
}

/** `unexpected "foo"`, `unexpected number "12"`, `unexpected string 'a'`, or `unexpected end of filter`. */
function describe(lexer: Lexer, token: Token): string {
  const source = show(lexer.text.slice(token.start, token.end));
  switch (token.kind) {
    case "end":
      return "unexpected end of filter";
    case "string":
    case "quoted-key":
      // The token's own quotes delimit it; quoting it again would only add escapes.
      return `unexpected ${token.kind === "string" ? "string" : "key"} ${source}`;
    case "number":
      return `unexpected number "${source}"`;
    case "unknown":
      return `unexpected character "${source}"`;
    case "word":
    case "op":
    case "punct":
      return `unexpected "${source}"`;
  }
}

function isKeyword(token: Token, keyword: string): boolean {
  return token.kind === "word" && token.text.toLowerCase() === keyword;
}

const FIELD_EXPECTED = `a field (metrics.<key>, params.<key>, tags.<key>, ${FILTER_ATTRIBUTES.join(", ")})`;
const OPERATOR_EXPECTED = "a comparison operator (=, !=, <, <=, >, >=, in, like)";

function fieldName(field: FilterField): string {
  switch (field.kind) {
    case "metric":
      return `metrics.${field.key}`;
    case "param":
      return `params.${field.key}`;
    case "tag":
      return `tags.${field.key}`;
    case "attribute":
      return field.name;
  }
}

class Parser {
  private comparisons = 0;

  constructor(private readonly lexer: Lexer) {}

  parse(): FilterExpression {
    const expression = this.or(0);
    const token = this.lexer.peek();
    if (token.kind !== "end") {
      const expected =
        token.kind === "punct" && token.char === ")"
          ? '"and", "or" or end of filter (unbalanced ")")'
          : '"and", "or" or end of filter';
      throw invalid(token.start, describe(this.lexer, token), expected);
    }
    return expression;
  }

  private or(depth: number): FilterExpression {
    const operands = [this.and(depth)];
    while (isKeyword(this.lexer.peek(), "or")) {
      this.lexer.next();
      operands.push(this.and(depth));
    }
    return operands.length === 1 ? (operands[0] as FilterExpression) : { kind: "or", operands };
  }

  private and(depth: number): FilterExpression {
    const operands = [this.unary(depth)];
    while (isKeyword(this.lexer.peek(), "and")) {
      this.lexer.next();
      operands.push(this.unary(depth));
    }
    return operands.length === 1 ? (operands[0] as FilterExpression) : { kind: "and", operands };
  }

  private unary(depth: number): FilterExpression {
    const token = this.lexer.peek();
    const opensGroup = token.kind === "punct" && token.char === "(";
    if (isKeyword(token, "not") || opensGroup) {
      // Checked before recursing, so a deeply nested filter is an error and never a stack overflow.
      if (depth + 1 > FILTER_LIMITS.maxDepth) {
        throw invalid(token.start, `filter nests deeper than ${FILTER_LIMITS.maxDepth} levels`);
      }
      this.lexer.next();
      if (!opensGroup) return { kind: "not", operand: this.unary(depth + 1) };
      const inner = this.or(depth + 1);
      this.expectPunct(")", '"and", "or" or ")"');
      return inner;
    }
    return this.comparison();
  }

  private comparison(): FilterExpression {
    const start = this.lexer.peek().start;
    const field = this.field();
    this.comparisons++;
    if (this.comparisons > FILTER_LIMITS.maxComparisons) {
      throw invalid(start, `filter has more than ${FILTER_LIMITS.maxComparisons} comparisons`);
    }
    const token = this.lexer.next();
    if (token.kind === "op") {
      return isNumericField(field)
        ? { kind: "compare", field, op: token.op, value: this.number(field) }
        : { kind: "compare", field, op: token.op, value: this.string(field) };
    }
    if (isKeyword(token, "in")) {
      this.expectPunct("(", '"(" after "in"');
      if (isNumericField(field)) return { kind: "in", field, values: this.list(() => this.number(field)) };
      return { kind: "in", field, values: this.list(() => this.string(field)) };
    }
    if (isKeyword(token, "like")) {
      if (isNumericField(field)) {
        throw invalid(
          token.start,
          `"like" needs a string field but ${fieldName(field)} is numeric`,
          OPERATOR_EXPECTED,
        );
      }
      const patternStart = this.lexer.peek().start;
      const pattern = this.string(field);
      if (endsWithLoneEscape(pattern)) {
        // PostgreSQL fails on such a pattern once it reaches the end of a value, SQLite matches nothing.
        throw invalid(
          patternStart,
          'like pattern ends with a lone escape character "\\"',
          "a character after the escape",
        );
      }
      return { kind: "like", field, pattern };
    }
    throw invalid(token.start, describe(this.lexer, token), OPERATOR_EXPECTED);
  }

  private list<T>(item: () => T): T[] {
    const values = [item()];
    for (;;) {
      const token = this.lexer.next();
      if (token.kind === "punct" && token.char === ")") return values;
      if (token.kind !== "punct" || token.char !== ",")
        throw invalid(token.start, describe(this.lexer, token), '"," or ")"');
      values.push(item());
    }
  }

  private field(): FilterField {
    const token = this.lexer.next();
    if (token.kind !== "word")
      throw invalid(token.start, describe(this.lexer, token), `${FIELD_EXPECTED}, "not" or "("`);
    for (const [prefix, kind] of Object.entries(KEY_PREFIXES)) {
      if (!token.text.startsWith(prefix)) continue;
      let key = token.text.slice(prefix.length);
      if (key === "") {
        // `tags.` followed directly by a backtick-quoted key, for keys with spaces or other characters.
        const quoted = this.lexer.peek();
        if (quoted.kind !== "quoted-key" || quoted.start !== token.end) {
          throw invalid(
            token.end,
            `missing key after "${prefix}"`,
            "a key (letters, digits, _ - . : /) or a `quoted key`",
          );
        }
        this.lexer.next();
        key = quoted.value;
        if (key === "") throw invalid(quoted.start, "empty key", "a non-empty key");
      }
      return { kind, key };
    }
    const attribute = FILTER_ATTRIBUTES.find((name) => name === token.text);
    if (attribute === undefined) throw invalid(token.start, describe(this.lexer, token), FIELD_EXPECTED);
    return { kind: "attribute", name: attribute };
  }

  private number(field: NumericField): number {
    const token = this.lexer.next();
    if (token.kind !== "number") {
      throw invalid(token.start, describe(this.lexer, token), `a number (${fieldName(field)} is numeric)`);
    }
    if (
      field.kind === "attribute" &&
      !(Number.isInteger(token.value) && token.value >= INT32_MIN && token.value <= INT32_MAX)
    ) {
      throw invalid(
        token.start,
        `version must be compared with an integer, got ${this.source(token)}`,
        "an integer",
      );
    }
    return token.value;
  }

  private string(field: StringField): string {
    const token = this.lexer.next();
    if (token.kind !== "string") {
      throw invalid(
        token.start,
        describe(this.lexer, token),
        `a quoted string (${fieldName(field)} is a string field)`,
      );
    }
    return token.value;
  }

  private expectPunct(char: "(" | ")", expected: string): void {
    const token = this.lexer.next();
    if (token.kind !== "punct" || token.char !== char)
      throw invalid(token.start, describe(this.lexer, token), expected);
  }

  private source(token: Token): string {
    return this.lexer.text.slice(token.start, token.end);
  }
}

/**
 * Parses a version search filter into a typed AST, checking types and limits. Every failure is a
 * SkalaError FILTER_INVALID whose details carry the 0-based `position` (and `expected`, when known).
 *
 * @example
 * parseFilter('metrics.mase < 0.9 and tags.segment = "A12"');
 * // { kind: "and", operands: [{ kind: "compare", field: { kind: "metric", key: "mase" }, op: "<", value: 0.9 }, …] }
 */
export function parseFilter(text: string): FilterExpression {
  if (text.length > FILTER_LIMITS.maxLength) {
    throw invalid(
      FILTER_LIMITS.maxLength,
      `filter is ${text.length} characters long, more than the limit of ${FILTER_LIMITS.maxLength}`,
    );
  }
  return new Parser(new Lexer(text)).parse();
}
