import {
  FUNCTION_NAMES,
  KEYWORDS,
  NAMESPACES,
  OBSERVED_NAMES,
  printWindow,
  type RuleArgument,
  type RuleExpression,
} from "./rule-ast.js";
import { IDENTIFIER } from "./rule-parser.js";

/** Binding strength: a lower number binds more loosely. */
function precedence(node: RuleExpression): number {
  switch (node.kind) {
    case "or":
      return 1;
    case "and":
      return 2;
    case "not":
      return 3;
    case "compare":
      return 4;
    case "arithmetic":
      return node.op === "+" || node.op === "-" ? 5 : 6;
    case "negate":
      return 7;
    default:
      return 8;
  }
}

function quoteName(name: string): string {
  return `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``;
}

/** A name that would read as something else when written bare. */
function isReserved(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    (KEYWORDS as readonly string[]).includes(lower) ||
    (NAMESPACES as readonly string[]).includes(name) ||
    (OBSERVED_NAMES as readonly string[]).includes(name) ||
    (FUNCTION_NAMES as readonly string[]).includes(name) ||
    /^coverage_\d{1,6}$/.test(name)
  );
}

function key(name: string): string {
  return IDENTIFIER.test(name) ? name : quoteName(name);
}

function wrap(node: RuleExpression, parens: boolean): string {
  const text = printRule(node);
  return parens ? `(${text})` : text;
}

function printArgument(arg: RuleArgument): string {
  return arg.kind === "window" ? printWindow(arg) : printRule(arg);
}

/**
 * Prints a syntax tree as rule text that parses back to the same tree: operators spaced, parentheses only
 * where the tree's grouping needs them, metrics as calls (`coverage_80` prints as `coverage(80)`).
 *
 * @example
 * printRule(parseRuleSyntax("mean(abs_error,last 100 predictions)<=1.5*reference.mae").ast)
 * // "mean(abs_error, last 100 predictions) <= 1.5 * reference.mae"
 */
export function printRule(node: RuleExpression): string {
  switch (node.kind) {
    case "number":
      return String(node.value);
    case "boolean":
      return String(node.value);
    case "output":
      return IDENTIFIER.test(node.name) && !isReserved(node.name) ? node.name : `outputs.${key(node.name)}`;
    case "input":
      return `inputs.${key(node.name)}`;
    case "reference":
      return `reference.${key(node.name)}`;
    case "observed":
      return node.name;
    case "negate":
      return `-${wrap(node.operand, precedence(node.operand) < 7)}`;
    case "not":
      return `not ${wrap(node.operand, precedence(node.operand) < 3)}`;
    case "and":
    case "or":
    case "arithmetic":
    case "compare": {
      const own = precedence(node);
      const op = node.kind === "and" || node.kind === "or" ? node.kind : node.op;
      // Left-associative: the right operand needs parentheses at equal strength; comparisons do not chain.
      const left = wrap(
        node.left,
        node.kind === "compare" ? precedence(node.left) <= own : precedence(node.left) < own,
      );
      const right = wrap(node.right, precedence(node.right) <= own);
      return `${left} ${op} ${right}`;
    }
    case "call":
      return `${node.name}(${node.args.map(printArgument).join(", ")})`;
  }
}
