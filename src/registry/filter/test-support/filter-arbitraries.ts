import fc from "fast-check";
import type {
  ComparisonOperator,
  FilterExpression,
  NumericField,
  StringAttribute,
  StringField,
} from "../filter-parser.js";
import { endsWithLoneEscape, FILTER_LIMITS } from "../filter-parser.js";
import { printFilter } from "../filter-printer.js";

export interface FilterArbitraryOptions {
  /** metric, tag and param keys */
  key: fc.Arbitrary<string>;
  /** string values and like patterns */
  text: fc.Arbitrary<string>;
  metric: fc.Arbitrary<number>;
  version: fc.Arbitrary<number>;
  /**
   * Whether `<`, `<=`, `>`, `>=` may apply to string fields other than created_at. Off where results are
   * compared across databases: string ordering follows each database's collation.
   */
  stringOrdering: boolean;
  /** created_at values (any operator); defaults to `text` */
  timestamp?: fc.Arbitrary<string>;
}

const ALL_OPS: readonly ComparisonOperator[] = ["=", "!=", "<", "<=", ">", ">="];
const EQUALITY_OPS: readonly ComparisonOperator[] = ["=", "!="];
const STRING_ATTRIBUTES: readonly StringAttribute[] = [
  "runtime",
  "status",
  "created_at",
  "model",
  "fleet",
  "run_id",
];

function height(node: FilterExpression): number {
  switch (node.kind) {
    case "and":
    case "or":
      return 1 + Math.max(...node.operands.map(height));
    case "not":
      return 1 + height(node.operand);
    case "compare":
    case "in":
    case "like":
      return 0;
  }
}

function comparisons(node: FilterExpression): number {
  switch (node.kind) {
    case "and":
    case "or":
      return node.operands.reduce((sum, operand) => sum + comparisons(operand), 0);
    case "not":
      return comparisons(node.operand);
    case "compare":
    case "in":
    case "like":
      return 1;
  }
}

/** Valid filter ASTs within the parser's limits (each AST level adds at most two levels of nesting in text). */
export function filterArbitrary(options: FilterArbitraryOptions): fc.Arbitrary<FilterExpression> {
  const numericField: fc.Arbitrary<NumericField> = fc.oneof(
    options.key.map((key) => ({ kind: "metric" as const, key })),
    fc.constant({ kind: "attribute" as const, name: "version" as const }),
  );
  const stringField: fc.Arbitrary<StringField> = fc.oneof(
    options.key.map((key) => ({ kind: "tag" as const, key })),
    options.key.map((key) => ({ kind: "param" as const, key })),
    fc.constantFrom(...STRING_ATTRIBUTES).map((name) => ({ kind: "attribute" as const, name })),
  );
  const numericValue = (field: NumericField) => (field.kind === "metric" ? options.metric : options.version);

  const numericLeaf: fc.Arbitrary<FilterExpression> = numericField.chain((field) =>
    fc.oneof(
      fc
        .record({ op: fc.constantFrom(...ALL_OPS), value: numericValue(field) })
        .map(({ op, value }) => ({ kind: "compare" as const, field, op, value })),
      fc
        .array(numericValue(field), { minLength: 1, maxLength: 3 })
        .map((values) => ({ kind: "in" as const, field, values })),
    ),
  );
  const stringLeaf: fc.Arbitrary<FilterExpression> = stringField.chain((field) => {
    const isTimestamp = field.kind === "attribute" && field.name === "created_at";
    const ordered = options.stringOrdering || isTimestamp;
    const text = isTimestamp ? (options.timestamp ?? options.text) : options.text;
    return fc.oneof(
      fc
        .record({ op: fc.constantFrom(...(ordered ? ALL_OPS : EQUALITY_OPS)), value: text })
        .map(({ op, value }) => ({ kind: "compare" as const, field, op, value })),
      fc
        .array(text, { minLength: 1, maxLength: 3 })
        .map((values) => ({ kind: "in" as const, field, values })),
      text
        .filter((pattern) => !endsWithLoneEscape(pattern))
        .map((pattern) => ({ kind: "like" as const, field, pattern })),
    );
  });

  const { node } = fc.letrec<{ node: FilterExpression }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", maxDepth: 8 },
      numericLeaf,
      stringLeaf,
      fc
        .array(tie("node"), { minLength: 2, maxLength: 3 })
        .map((operands) => ({ kind: "and" as const, operands })),
      fc
        .array(tie("node"), { minLength: 2, maxLength: 3 })
        .map((operands) => ({ kind: "or" as const, operands })),
      tie("node").map((operand) => ({ kind: "not" as const, operand })),
    ),
  }));
  return node.filter(
    (ast) =>
      2 * height(ast) <= FILTER_LIMITS.maxDepth &&
      comparisons(ast) <= FILTER_LIMITS.maxComparisons &&
      printFilter(ast).length <= FILTER_LIMITS.maxLength,
  );
}

// The language refuses NUL in strings and keys (PostgreSQL text cannot hold it).
const withoutNul = (text: string) => text.replaceAll("\0", "");

/** Any key, value or number the language can express, for parse ∘ print round trips. */
export const anyFilterArbitrary = filterArbitrary({
  key: fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_\-.:/]{1,8}$/),
    fc
      .string({ unit: "binary", minLength: 1, maxLength: 8 })
      .map(withoutNul)
      .filter((key) => key !== ""),
  ),
  text: fc.string({ unit: "binary", maxLength: 10 }).map(withoutNul),
  metric: fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => (value === 0 ? 0 : value)),
  version: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  stringOrdering: true,
});
