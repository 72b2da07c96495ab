import type { FilterExpression, FilterField } from "./filter-parser.js";

const BARE_KEY = /^[A-Za-z0-9_\-.:/]+$/;

function quote(text: string, quoteChar: '"' | "`"): string {
  let out = quoteChar;
  for (const char of text) {
    if (char === "\\" || char === quoteChar) out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    // Other control characters would survive a round trip too, but escaped they stay visible in logs.
    else if (char < " " || char === "\u007f") out += `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return out + quoteChar;
}

function printField(field: FilterField): string {
  switch (field.kind) {
    case "metric":
      return `metrics.${printKey(field.key)}`;
    case "param":
      return `params.${printKey(field.key)}`;
    case "tag":
      return `tags.${printKey(field.key)}`;
    case "attribute":
      return field.name;
  }
}

function printKey(key: string): string {
  return BARE_KEY.test(key) ? key : quote(key, "`");
}

function printValue(value: string | number): string {
  return typeof value === "number" ? String(value) : quote(value, '"');
}

/** Parenthesises an operand only where precedence or the AST's grouping would otherwise be lost. */
function printOperand(node: FilterExpression, parent: "and" | "or" | "not"): string {
  const text = printFilter(node);
  // An `or` inside `or`, or an `and` inside `and`, is parenthesised to keep the AST's grouping exact.
  const needsParens = node.kind === "or" || (node.kind === "and" && parent !== "or");
  return needsParens ? `(${text})` : text;
}

/**
 * Prints an AST as filter text that parses back to the same AST (strings in double quotes, keys bare where
 * possible). Useful for echoing a normalised filter back to a user.
 *
 * @example
 * printFilter(parseFilter("metrics.mase<0.9 AND tags.segment='A12'")) // 'metrics.mase < 0.9 and tags.segment = "A12"'
 */
export function printFilter(node: FilterExpression): string {
  switch (node.kind) {
    case "and":
    case "or":
      return node.operands.map((operand) => printOperand(operand, node.kind)).join(` ${node.kind} `);
    case "not":
      return `not ${printOperand(node.operand, "not")}`;
    case "compare":
      return `${printField(node.field)} ${node.op} ${printValue(node.value)}`;
    case "in":
      return `${printField(node.field)} in (${node.values.map(printValue).join(", ")})`;
    case "like":
      return `${printField(node.field)} like ${quote(node.pattern, '"')}`;
  }
}
