import { SkalaError } from "../../core/index.js";
import {
  type ArithmeticOperator,
  type ComparisonOperator,
  FUNCTION_NAMES,
  KEYWORDS,
  NAMESPACES,
  OBSERVED_NAMES,
  RULE_LIMITS,
  type RuleArgument,
  type RuleExpression,
  type RuleWindow,
  WINDOW_UNITS,
  type WindowUnit,
} from "./rule-ast.js";

/** One problem with a rule: the 0-based character offset where it starts, and what is wrong there. */
export interface RuleProblem {
  readonly position: number;
  readonly message: string;
  readonly expected?: string;
}

/**
 * Where the nodes of a parsed tree sit in the text, by node identity: where each starts (a parenthesised
 * expression at its parenthesis), and where the operator of each binary node is.
 */
export interface RulePositions {
  readonly start: ReadonlyMap<RuleExpression | RuleWindow, number>;
  readonly operator: ReadonlyMap<RuleExpression, number>;
}

export interface ParsedRuleSyntax {
  readonly ast: RuleExpression;
  readonly positions: RulePositions;
}

/** The one error of the rule language: every problem found, in text order, each with its position. */
export function ruleInvalid(problems: readonly RuleProblem[]): SkalaError {
  const sorted = [...problems].sort((a, b) => a.position - b.position);
  const first = sorted[0] ?? { position: 0, message: "invalid rule" };
  const describe = (p: RuleProblem) =>
    p.expected === undefined
      ? `${p.message} at position ${p.position}`
      : `${p.message} at position ${p.position}: expected ${p.expected}`;
  const more =
    sorted.length > 1 ? ` (and ${sorted.length - 1} more problem${sorted.length > 2 ? "s" : ""})` : "";
  return new SkalaError("RULE_INVALID", `${describe(first)}${more}`, {
    position: first.position,
    problems: sorted.map((p) => ({ ...p })),
  });
}

type Token =
  | { readonly kind: "word"; readonly text: string; readonly start: number; readonly end: number }
  | { readonly kind: "quoted"; readonly value: string; readonly start: number; readonly end: number }
  | { readonly kind: "number"; readonly value: number; readonly start: number; readonly end: number }
  | { readonly kind: "op"; readonly op: Operator; readonly start: number; readonly end: number }
  | {
      readonly kind: "punct";
      readonly char: "(" | ")" | "," | ".";
      readonly start: number;
      readonly end: number;
    }
  | { readonly kind: "unknown"; readonly start: number; readonly end: number }
  | { readonly kind: "end"; readonly start: number; readonly end: number };

type Operator = ComparisonOperator | ArithmeticOperator;

const WORD_START = /[A-Za-z_]/;
const WORD_CHAR = /[A-Za-z0-9_]/;
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// No sign (unary minus is an operator), no Infinity/NaN: literals are plain finite decimals.
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/y;
const COMPARISONS: readonly string[] = ["<", "<=", ">", ">=", "==", "!="];
const UNIT_WORDS: Readonly<Record<string, WindowUnit>> = {
  prediction: "predictions",
  predictions: "predictions",
  period: "periods",
  periods: "periods",
  minute: "minutes",
  minutes: "minutes",
  hour: "hours",
  hours: "hours",
  day: "days",
  days: "days",
};
const COVERAGE_SHORTHAND = /^coverage_(\d{1,6})$/;

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
    if (char === "." && !(following !== undefined && /\d/.test(following))) {
      this.position++;
      return { kind: "punct", char, start, end: this.position };
    }
    if (char === "<" || char === ">" || char === "=" || char === "!") {
      const two = following === "=";
      if ((char === "=" || char === "!") && !two) {
        this.position++;
        return { kind: "unknown", start, end: this.position };
      }
      this.position += two ? 2 : 1;
      return { kind: "op", op: (two ? `${char}=` : char) as Operator, start, end: this.position };
    }
    if (char === "+" || char === "-" || char === "*" || char === "/") {
      this.position++;
      return { kind: "op", op: char, start, end: this.position };
    }
    if (char === "`") {
      const value = this.quoted();
      return { kind: "quoted", value, start, end: this.position };
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
      if (end < text.length && (WORD_CHAR.test(text[end] ?? "") || text[end] === ".")) {
        let stop = end;
        while (stop < text.length && (WORD_CHAR.test(text[stop] ?? "") || text[stop] === ".")) stop++;
        throw ruleInvalid([
          { position: start, message: `malformed number "${show(text.slice(start, stop))}"` },
        ]);
      }
      const value = Number(number[0]);
      if (!Number.isFinite(value)) {
        throw ruleInvalid([{ position: start, message: `number ${show(number[0])} is out of range` }]);
      }
      this.position = end;
      return { kind: "number", value, start, end };
    }
    this.position += String.fromCodePoint(text.codePointAt(start) ?? 0).length;
    return { kind: "unknown", start, end: this.position };
  }

  /** A backtick-quoted name: `` \` `` and `\\` are its only escapes. */
  private quoted(): string {
    const text = this.text;
    const start = this.position;
    let value = "";
    let i = start + 1;
    while (i < text.length) {
      const char = text[i] as string;
      if (char === "`") {
        this.position = i + 1;
        if (value === "") throw ruleInvalid([{ position: start, message: "empty name", expected: "a name" }]);
        return value;
      }
      if (char === "\0" || char === "\n" || char === "\r") {
        throw ruleInvalid([{ position: i, message: "control character in a quoted name" }]);
      }
      if (char === "\\") {
        const escaped = text[i + 1];
        if (escaped === "`" || escaped === "\\") {
          value += escaped;
          i += 2;
          continue;
        }
        if (escaped === undefined) break;
        throw ruleInvalid([
          { position: i, message: `unknown escape "\\${show(escaped)}"`, expected: "\\` or \\\\" },
        ]);
      }
      value += char;
      i++;
    }
    throw ruleInvalid([{ position: start, message: "unterminated quoted name", expected: "a closing `" }]);
  }
}

/** Rule text quoted for a message: shortened, with control characters made visible. */
function show(text: string): string {
  const short = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  let shown = "";
  for (const char of short) {
    shown +=
      char < " " || char === "\u007f" ? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}` : char;
  }
  return shown;
}

function isWord(token: Token, word: string): boolean {
  return token.kind === "word" && token.text.toLowerCase() === word;
}

function isKeyword(token: Token): boolean {
  return token.kind === "word" && (KEYWORDS as readonly string[]).includes(token.text.toLowerCase());
}

const OPERAND_EXPECTED = 'a number, a name, a function call, "true", "false", "not", "-" or "("';

class Parser {
  readonly problems: RuleProblem[] = [];
  readonly starts = new Map<RuleExpression | RuleWindow, number>();
  readonly operators = new Map<RuleExpression, number>();

  constructor(private readonly lexer: Lexer) {}

  parse(): RuleExpression {
    const expression = this.or(0);
    const token = this.lexer.peek();
    if (token.kind !== "end") {
      const unbalanced = token.kind === "punct" && token.char === ")" ? ' (unbalanced ")")' : "";
      this.fail(token, `an operator, "and", "or" or the end of the rule${unbalanced}`);
    }
    return expression;
  }

  private at<T extends RuleExpression | RuleWindow>(node: T, position: number): T {
    this.starts.set(node, position);
    return node;
  }

  /** A binary node: it starts where its left operand does. */
  private binary<T extends RuleExpression & { left: RuleExpression }>(node: T, operator: number): T {
    this.operators.set(node, operator);
    return this.at(node, this.starts.get(node.left) ?? operator);
  }

  /** A syntax error: nothing after it can be read reliably, so it ends parsing with what was found so far. */
  private fail(token: Token, expected: string, message = this.describe(token)): never {
    throw ruleInvalid([...this.problems, { position: token.start, message, expected }]);
  }

  private describe(token: Token): string {
    const source = show(this.lexer.text.slice(token.start, token.end));
    switch (token.kind) {
      case "end":
        return "unexpected end of rule";
      case "quoted":
        return `unexpected name ${source}`;
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

  private deeper(token: Token, depth: number): number {
    // Checked before recursing, so deep nesting is an error and never a stack overflow.
    if (depth + 1 > RULE_LIMITS.maxDepth) {
      throw ruleInvalid([
        ...this.problems,
        { position: token.start, message: `rule nests deeper than ${RULE_LIMITS.maxDepth} levels` },
      ]);
    }
    return depth + 1;
  }

  private or(depth: number): RuleExpression {
    let left = this.and(depth);
    while (isWord(this.lexer.peek(), "or")) {
      const position = this.lexer.next().start;
      left = this.binary({ kind: "or", left, right: this.and(depth) }, position);
    }
    return left;
  }

  private and(depth: number): RuleExpression {
    let left = this.not(depth);
    while (isWord(this.lexer.peek(), "and")) {
      const position = this.lexer.next().start;
      left = this.binary({ kind: "and", left, right: this.not(depth) }, position);
    }
    return left;
  }

  private not(depth: number): RuleExpression {
    const token = this.lexer.peek();
    if (!isWord(token, "not")) return this.comparison(depth);
    const inner = this.deeper(token, depth);
    this.lexer.next();
    return this.at({ kind: "not", operand: this.not(inner) }, token.start);
  }

  private comparison(depth: number): RuleExpression {
    const left = this.additive(depth);
    const token = this.lexer.peek();
    if (token.kind !== "op" || !COMPARISONS.includes(token.op)) return left;
    this.lexer.next();
    const right = this.additive(depth);
    const node = this.binary(
      { kind: "compare", op: token.op as ComparisonOperator, left, right },
      token.start,
    );
    const after = this.lexer.peek();
    if (after.kind === "op" && COMPARISONS.includes(after.op)) {
      this.fail(
        after,
        '"and" between two comparisons',
        `comparisons do not chain: "${show(this.lexer.text.slice(after.start, after.end))}" after a comparison`,
      );
    }
    return node;
  }

  private additive(depth: number): RuleExpression {
    let left = this.multiplicative(depth);
    for (;;) {
      const token = this.lexer.peek();
      if (token.kind !== "op" || (token.op !== "+" && token.op !== "-")) return left;
      this.lexer.next();
      const right = this.multiplicative(depth);
      left = this.binary({ kind: "arithmetic", op: token.op, left, right }, token.start);
    }
  }

  private multiplicative(depth: number): RuleExpression {
    let left = this.unary(depth);
    for (;;) {
      const token = this.lexer.peek();
      if (token.kind !== "op" || (token.op !== "*" && token.op !== "/")) return left;
      this.lexer.next();
      const right = this.unary(depth);
      left = this.binary({ kind: "arithmetic", op: token.op, left, right }, token.start);
    }
  }

  private unary(depth: number): RuleExpression {
    const token = this.lexer.peek();
    if (token.kind !== "op" || token.op !== "-") return this.primary(depth);
    const inner = this.deeper(token, depth);
    this.lexer.next();
    return this.at({ kind: "negate", operand: this.unary(inner) }, token.start);
  }

  private primary(depth: number): RuleExpression {
    const token = this.lexer.next();
    switch (token.kind) {
      case "number":
        return this.at({ kind: "number", value: token.value }, token.start);
      case "quoted":
        return this.at({ kind: "output", name: token.value }, token.start);
      case "punct": {
        if (token.char !== "(") break;
        const inner = this.or(this.deeper(token, depth));
        this.expect(")", '"and", "or", an operator or ")"');
        // A parenthesised expression starts at its parenthesis.
        this.starts.set(inner, token.start);
        return inner;
      }
      case "word":
        return this.word(token, depth);
      default:
        break;
    }
    this.fail(token, OPERAND_EXPECTED);
  }

  private word(token: Token & { kind: "word" }, depth: number): RuleExpression {
    const lower = token.text.toLowerCase();
    if (lower === "true" || lower === "false") {
      return this.at({ kind: "boolean", value: lower === "true" }, token.start);
    }
    if (isKeyword(token)) this.fail(token, OPERAND_EXPECTED);
    const after = this.lexer.peek();
    if (after.kind === "punct" && after.char === "(") {
      const inner = this.deeper(after, depth);
      this.lexer.next();
      return this.at({ kind: "call", name: token.text, args: this.args(inner) }, token.start);
    }
    const namespace = NAMESPACES.find((n) => n === token.text);
    if (namespace !== undefined) {
      if (after.kind !== "punct" || after.char !== ".") {
        this.fail(after, `"." and a name after "${namespace}"`, this.describe(after));
      }
      this.lexer.next();
      const name = this.lexer.next();
      if (name.kind !== "word" && name.kind !== "quoted") {
        this.fail(name, `a name after "${namespace}." (letters, digits, _ or a \`quoted name\`)`);
      }
      const text = name.kind === "word" ? name.text : name.value;
      const kind = namespace === "inputs" ? "input" : namespace === "outputs" ? "output" : "reference";
      return this.at({ kind, name: text }, token.start);
    }
    if (after.kind === "punct" && after.char === ".") {
      this.problems.push({
        position: token.start,
        message: `unknown namespace "${show(token.text)}"`,
        expected: "inputs.<name>, outputs.<name> or reference.<name>",
      });
      this.lexer.next();
      const name = this.lexer.next();
      if (name.kind !== "word" && name.kind !== "quoted") this.fail(name, "a name");
      return this.at({ kind: "output", name: token.text }, token.start);
    }
    const observed = OBSERVED_NAMES.find((n) => n === token.text);
    if (observed !== undefined) return this.at({ kind: "observed", name: observed }, token.start);
    const coverage = COVERAGE_SHORTHAND.exec(token.text);
    if (coverage) {
      const level = this.at({ kind: "number", value: Number(coverage[1]) }, token.start + "coverage_".length);
      return this.at({ kind: "call", name: "coverage", args: [level] }, token.start);
    }
    if ((FUNCTION_NAMES as readonly string[]).includes(token.text)) {
      return this.at({ kind: "call", name: token.text, args: [] }, token.start);
    }
    return this.at({ kind: "output", name: token.text }, token.start);
  }

  private args(depth: number): RuleArgument[] {
    const args: RuleArgument[] = [];
    const first = this.lexer.peek();
    if (first.kind === "punct" && first.char === ")") {
      this.lexer.next();
      return args;
    }
    for (;;) {
      args.push(isWord(this.lexer.peek(), "last") ? this.window() : this.or(depth));
      const token = this.lexer.next();
      if (token.kind === "punct" && token.char === ")") return args;
      if (token.kind !== "punct" || token.char !== ",") this.fail(token, '"," or ")"');
    }
  }

  private window(): RuleWindow {
    const start = this.lexer.next().start;
    const size = this.lexer.next();
    if (size.kind !== "number") this.fail(size, 'a whole number after "last"');
    const unitToken = this.lexer.next();
    if (unitToken.kind !== "word") this.fail(unitToken, `a unit (${WINDOW_UNITS.join(", ")})`);
    let unit = UNIT_WORDS[unitToken.text.toLowerCase()];
    if (unit === undefined) {
      this.problems.push({
        position: unitToken.start,
        message: `unknown window unit "${show(unitToken.text)}"`,
        expected: WINDOW_UNITS.join(", "),
      });
      unit = "predictions";
    }
    if (!Number.isInteger(size.value) || size.value < 1) {
      this.problems.push({
        position: size.start,
        message: `window size must be a whole number of at least 1, got ${show(this.lexer.text.slice(size.start, size.end))}`,
      });
    } else if (size.value > RULE_LIMITS.maxWindow[unit]) {
      this.problems.push({
        position: size.start,
        message: `window of ${size.value} ${unit} is larger than the limit of ${RULE_LIMITS.maxWindow[unit]} ${unit}`,
      });
    }
    return this.at({ kind: "window", size: size.value, unit }, start);
  }

  private expect(char: ")", expected: string): void {
    const token = this.lexer.next();
    if (token.kind !== "punct" || token.char !== char) this.fail(token, expected);
  }
}

/**
 * Parses rule text, collecting the problems that leave the tree whole (an unknown unit, a window too large) and
 * throwing RULE_INVALID at the first syntax error. For the checker, which adds its own problems to these.
 */
export function parseRuleText(
  text: string,
): ParsedRuleSyntax & { readonly problems: readonly RuleProblem[] } {
  if (typeof text !== "string") throw ruleInvalid([{ position: 0, message: "a rule must be text" }]);
  if (text.length > RULE_LIMITS.maxLength) {
    throw ruleInvalid([
      {
        position: RULE_LIMITS.maxLength,
        message: `rule is ${text.length} characters long, more than the limit of ${RULE_LIMITS.maxLength}`,
      },
    ]);
  }
  const parser = new Parser(new Lexer(text));
  const ast = parser.parse();
  return { ast, positions: { start: parser.starts, operator: parser.operators }, problems: parser.problems };
}

/**
 * Parses rule text into its syntax tree without checking names or types (see `parseRule` for that). Every
 * failure is a SkalaError RULE_INVALID whose details carry `problems` (each with its 0-based `position`).
 *
 * @example
 * parseRuleSyntax("forecast >= 0").ast;
 * // { kind: "compare", op: ">=", left: { kind: "output", name: "forecast" }, right: { kind: "number", value: 0 } }
 */
export function parseRuleSyntax(text: string): ParsedRuleSyntax {
  const { ast, positions, problems } = parseRuleText(text);
  if (problems.length > 0) throw ruleInvalid(problems);
  return { ast, positions };
}
