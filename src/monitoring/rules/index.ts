/**
 * Runtime rules: a small language over a model's outputs, inputs and metrics (`forecast >= 0`,
 * `coverage(80, last 8 periods) >= 0.7`), parsed by hand (no eval), checked statically, and evaluated to
 * satisfied, violated or inconclusive with evidence. Pure domain code: data arrives through `RuleData`.
 * See docs/reference/rule-language.md.
 */
export {
  AGGREGATES,
  type AggregateName,
  type ArithmeticOperator,
  type ComparisonOperator,
  FUNCTION_NAMES,
  type FunctionName,
  KEYWORDS,
  METRICS,
  type MetricName,
  NAMESPACES,
  OBSERVED_NAMES,
  type ObservedName,
  printWindow,
  QUANTIFIERS,
  type QuantifierName,
  RULE_LIMITS,
  type RuleArgument,
  type RuleExpression,
  type RuleWindow,
  WINDOW_UNITS,
  type WindowUnit,
} from "./rule-ast.js";
export {
  DEFAULT_RULE_WINDOW,
  parseRule,
  type Rule,
  type RuleModelKind,
  type RuleOptions,
  type RuleRequirements,
  type RuleRowsRequest,
  requirements,
} from "./rule-checker.js";
export {
  InMemoryRuleData,
  type InMemoryRuleDataOptions,
  type RuleData,
  type RuleObservation,
  type RuleRows,
} from "./rule-data.js";
export {
  evaluateRule,
  kleeneAnd,
  kleeneNot,
  kleeneOr,
  MAX_VIOLATION_IDS,
  type RuleEvaluation,
  type RuleOutcome,
  type WindowEvidence,
} from "./rule-evaluator.js";
export {
  type ParsedRuleSyntax,
  parseRuleSyntax,
  type RulePositions,
  type RuleProblem,
} from "./rule-parser.js";
export { printRule } from "./rule-printer.js";
