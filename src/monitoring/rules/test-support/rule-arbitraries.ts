import fc from "fast-check";
import {
  KEYWORDS,
  OBSERVED_NAMES,
  RULE_LIMITS,
  type RuleArgument,
  type RuleExpression,
  type RuleWindow,
  WINDOW_UNITS,
} from "../rule-ast.js";

const identifier = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,7}$/);
/** Any name a quoted name can hold (no NUL, CR or LF), or a plain identifier. */
const name = fc.oneof(
  identifier,
  fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !/[\0\n\r]/.test(s)),
  fc.constantFrom("and", "True", "mae", "actual", "inputs", "coverage_80", "a`b", "x\\y", "output:0"),
);
const callName = identifier.filter((s) => !(KEYWORDS as readonly string[]).includes(s.toLowerCase()));
const literal = fc
  .oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.double({ min: 0, max: 1e300, noNaN: true }))
  .filter((v) => !Object.is(v, -0));

export const windowArbitrary: fc.Arbitrary<RuleWindow> = fc
  .constantFrom(...WINDOW_UNITS)
  .chain((unit) =>
    fc
      .integer({ min: 1, max: RULE_LIMITS.maxWindow[unit] })
      .map((size): RuleWindow => ({ kind: "window", size, unit })),
  );

/** Syntax trees as the parser builds them (names and types unchecked), a few levels deep. */
export const syntaxArbitrary: fc.Arbitrary<RuleExpression> = fc.letrec<{
  expr: RuleExpression;
  arg: RuleArgument;
}>((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    literal.map((value): RuleExpression => ({ kind: "number", value })),
    fc.boolean().map((value): RuleExpression => ({ kind: "boolean", value })),
    name.map((n): RuleExpression => ({ kind: "output", name: n })),
    name.map((n): RuleExpression => ({ kind: "input", name: n })),
    name.map((n): RuleExpression => ({ kind: "reference", name: n })),
    fc.constantFrom(...OBSERVED_NAMES).map((n): RuleExpression => ({ kind: "observed", name: n })),
    tie("expr").map((operand): RuleExpression => ({ kind: "negate", operand })),
    tie("expr").map((operand): RuleExpression => ({ kind: "not", operand })),
    fc
      .tuple(fc.constantFrom("+", "-", "*", "/" as const), tie("expr"), tie("expr"))
      .map(([op, left, right]): RuleExpression => ({ kind: "arithmetic", op, left, right })),
    fc
      .tuple(fc.constantFrom("<", "<=", ">", ">=", "==", "!=" as const), tie("expr"), tie("expr"))
      .map(([op, left, right]): RuleExpression => ({ kind: "compare", op, left, right })),
    fc
      .tuple(fc.constantFrom("and", "or" as const), tie("expr"), tie("expr"))
      .map(([kind, left, right]): RuleExpression => ({ kind, left, right })),
    fc
      .tuple(callName, fc.array(tie("arg"), { maxLength: 3 }))
      .map(([n, args]): RuleExpression => ({ kind: "call", name: n, args })),
  ),
  arg: fc.oneof(tie("expr"), windowArbitrary),
})).expr;

const maybeWindow = fc.option(
  windowArbitrary.filter((w) => w.unit !== "periods" || w.size <= 1000),
  {
    nil: undefined,
  },
);
const withWindow = (args: RuleArgument[], window: RuleWindow | undefined): RuleArgument[] =>
  window === undefined ? args : [...args, window];

/** Well-typed rules (conditions) that the checker accepts. */
export const typedRuleArbitrary: fc.Arbitrary<RuleExpression> = fc.letrec<{
  cond: RuleExpression;
  num: RuleExpression;
  rowNum: RuleExpression;
  rowCond: RuleExpression;
}>((tie) => ({
  cond: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.boolean().map((value): RuleExpression => ({ kind: "boolean", value })),
    fc
      .tuple(fc.constantFrom("<", "<=", ">", ">=", "==", "!=" as const), tie("num"), tie("num"))
      .map(([op, left, right]): RuleExpression => ({ kind: "compare", op, left, right })),
    fc
      .tuple(fc.constantFrom("and", "or" as const), tie("cond"), tie("cond"))
      .map(([kind, left, right]): RuleExpression => ({ kind, left, right })),
    tie("cond").map((operand): RuleExpression => ({ kind: "not", operand })),
    fc
      .tuple(fc.constantFrom("all", "any"), tie("rowCond"), maybeWindow)
      .map(([n, c, w]): RuleExpression => ({ kind: "call", name: n, args: withWindow([c], w) })),
  ),
  num: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    literal.map((value): RuleExpression => ({ kind: "number", value })),
    identifier.map((n): RuleExpression => ({ kind: "reference", name: n })),
    fc
      .tuple(fc.constantFrom("mae", "rmse", "bias", "mase", "accuracy"), maybeWindow)
      .map(([n, w]): RuleExpression => ({ kind: "call", name: n, args: withWindow([], w) })),
    fc.tuple(fc.integer({ min: 1, max: 99 }), maybeWindow).map(
      ([level, w]): RuleExpression => ({
        kind: "call",
        name: "coverage",
        args: withWindow([{ kind: "number", value: level }], w),
      }),
    ),
    fc
      .tuple(fc.constantFrom("mean", "sum", "min", "max", "stddev"), tie("rowNum"), maybeWindow)
      .map(([n, x, w]): RuleExpression => ({ kind: "call", name: n, args: withWindow([x], w) })),
    fc.tuple(tie("rowNum"), fc.double({ min: 0, max: 1, noNaN: true }), maybeWindow).map(
      ([x, q, w]): RuleExpression => ({
        kind: "call",
        name: "quantile",
        args: withWindow([x, { kind: "number", value: q === 0 ? 0 : q }], w),
      }),
    ),
    fc
      .tuple(fc.constantFrom("count", "share"), tie("rowCond"), maybeWindow)
      .map(([n, c, w]): RuleExpression => ({ kind: "call", name: n, args: withWindow([c], w) })),
    fc
      .tuple(fc.constantFrom("+", "-", "*", "/" as const), tie("num"), tie("num"))
      .map(([op, left, right]): RuleExpression => ({ kind: "arithmetic", op, left, right })),
    tie("num").map((operand): RuleExpression => ({ kind: "negate", operand })),
  ),
  rowNum: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc
      .constantFrom("forecast", "lower_80", "probabilities")
      .map((n): RuleExpression => ({ kind: "output", name: n })),
    fc.constantFrom("x", "temperature").map((n): RuleExpression => ({ kind: "input", name: n })),
    fc.constantFrom(...OBSERVED_NAMES).map((n): RuleExpression => ({ kind: "observed", name: n })),
    fc
      .tuple(fc.constantFrom("+", "-", "*", "/" as const), tie("rowNum"), tie("num"))
      .map(([op, left, right]): RuleExpression => ({ kind: "arithmetic", op, left, right })),
    tie("rowNum").map((x): RuleExpression => ({ kind: "call", name: "abs", args: [x] })),
  ),
  rowCond: fc
    .tuple(fc.constantFrom("<", "<=", ">", ">=", "==", "!=" as const), tie("rowNum"), tie("num"))
    .map(([op, left, right]): RuleExpression => ({ kind: "compare", op, left, right })),
})).cond;
