/**
 * The syntax tree of the runtime rule language (docs/reference/rule-language.md). Nodes carry no positions:
 * the parser keeps those beside the tree, so that a printed and re-parsed rule compares equal to the original.
 */

/** Values the store records with each prediction, beside the model's outputs and inputs. */
export type ObservedName = "actual" | "prediction" | "error" | "abs_error" | "squared_error" | "latency_ms";

export const OBSERVED_NAMES: readonly ObservedName[] = [
  "actual",
  "prediction",
  "error",
  "abs_error",
  "squared_error",
  "latency_ms",
];

export type WindowUnit = "predictions" | "periods" | "minutes" | "hours" | "days";

export const WINDOW_UNITS: readonly WindowUnit[] = ["predictions", "periods", "minutes", "hours", "days"];

/** `last <size> <unit>`: a count of predictions or forecast periods, or a span of time ending now. */
export interface RuleWindow {
  readonly kind: "window";
  readonly size: number;
  readonly unit: WindowUnit;
}

export type ComparisonOperator = "<" | "<=" | ">" | ">=" | "==" | "!=";
export type ArithmeticOperator = "+" | "-" | "*" | "/";

export type RuleExpression =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "boolean"; readonly value: boolean }
  /** A model output, e.g. `forecast`, `lower_80`, `` `output:0` ``, `outputs.mae`. */
  | { readonly kind: "output"; readonly name: string }
  /** `inputs.<name>`: one of the prediction's inputs. */
  | { readonly kind: "input"; readonly name: string }
  /** `actual`, `error`, `latency_ms`, …: values recorded or derived per prediction. */
  | { readonly kind: "observed"; readonly name: ObservedName }
  /** `reference.<name>`: a value of the model's reference profile (one number). */
  | { readonly kind: "reference"; readonly name: string }
  | { readonly kind: "negate"; readonly operand: RuleExpression }
  | { readonly kind: "not"; readonly operand: RuleExpression }
  | {
      readonly kind: "arithmetic";
      readonly op: ArithmeticOperator;
      readonly left: RuleExpression;
      readonly right: RuleExpression;
    }
  | {
      readonly kind: "compare";
      readonly op: ComparisonOperator;
      readonly left: RuleExpression;
      readonly right: RuleExpression;
    }
  | { readonly kind: "and"; readonly left: RuleExpression; readonly right: RuleExpression }
  | { readonly kind: "or"; readonly left: RuleExpression; readonly right: RuleExpression }
  /**
   * A function call. The parser accepts any name and any arguments; the checker knows the functions. A bare
   * metric name (`mae`, `coverage_80`) is a call without a window (`mae()`, `coverage(80)`).
   */
  | { readonly kind: "call"; readonly name: string; readonly args: readonly RuleArgument[] };

export type RuleArgument = RuleExpression | RuleWindow;

/** Functions of the language, by what they take and give (see the checker for the exact signatures). */
export const AGGREGATES = ["mean", "sum", "min", "max", "stddev", "quantile", "count", "share"] as const;
export const QUANTIFIERS = ["all", "any"] as const;
export const METRICS = ["mae", "rmse", "bias", "mase", "accuracy", "coverage"] as const;
export const SCALAR_FUNCTIONS = ["abs"] as const;

export type AggregateName = (typeof AGGREGATES)[number];
export type QuantifierName = (typeof QUANTIFIERS)[number];
export type MetricName = (typeof METRICS)[number];
export type FunctionName = AggregateName | QuantifierName | MetricName | (typeof SCALAR_FUNCTIONS)[number];

export const FUNCTION_NAMES: readonly FunctionName[] = [
  ...AGGREGATES,
  ...QUANTIFIERS,
  ...METRICS,
  ...SCALAR_FUNCTIONS,
];

/** Words with a meaning of their own; an output with such a name is written `outputs.<name>`. */
export const KEYWORDS = ["and", "or", "not", "true", "false", "last"] as const;
export const NAMESPACES = ["inputs", "outputs", "reference"] as const;

/** Limits that keep a hostile rule from costing more than a reasonable one (each breach is RULE_INVALID). */
export const RULE_LIMITS = {
  /** characters in the rule text */
  maxLength: 4096,
  /** nesting of parentheses, calls, `not` and unary minus */
  maxDepth: 32,
  /** windowed functions (aggregates, quantifiers, metrics) in one rule: each reads a window of data */
  maxWindowedCalls: 32,
  /** the largest window per unit */
  maxWindow: {
    predictions: 1_000_000,
    periods: 1_000,
    minutes: 366 * 24 * 60,
    hours: 366 * 24,
    days: 366,
  } satisfies Record<WindowUnit, number>,
} as const;

/** Milliseconds per unit of a time window. */
export const UNIT_MS: Readonly<Record<"minutes" | "hours" | "days", number>> = {
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
};

export function isTimeUnit(unit: WindowUnit): unit is "minutes" | "hours" | "days" {
  return unit === "minutes" || unit === "hours" || unit === "days";
}

/** `last 8 periods`; a size of one prints singular (`last 1 hour`). */
export function printWindow(window: RuleWindow): string {
  const unit = window.size === 1 ? window.unit.slice(0, -1) : window.unit;
  return `last ${window.size} ${unit}`;
}
