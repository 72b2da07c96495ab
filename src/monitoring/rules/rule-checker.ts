import {
  AGGREGATES,
  type AggregateName,
  FUNCTION_NAMES,
  isTimeUnit,
  METRICS,
  type MetricName,
  type ObservedName,
  printWindow,
  QUANTIFIERS,
  type QuantifierName,
  RULE_LIMITS,
  type RuleArgument,
  type RuleExpression,
  type RuleWindow,
  UNIT_MS,
} from "./rule-ast.js";
import { parseRuleText, type RulePositions, type RuleProblem, ruleInvalid } from "./rule-parser.js";

/** What a model is, where it matters to a rule: only forecast models have periods. */
export type RuleModelKind = "forecast" | "predictor";

export interface RuleOptions {
  /** The window of a windowed function written without one, and of a bare per-prediction condition. */
  readonly defaultWindow?: RuleWindow;
  /** When known, `last N periods` is refused for a model that is not a forecast model. */
  readonly modelKind?: RuleModelKind;
}

/** `last 100 predictions`. */
export const DEFAULT_RULE_WINDOW: RuleWindow = { kind: "window", size: 100, unit: "predictions" };

/** A checked rule, ready to evaluate. */
export interface Rule {
  readonly text: string;
  readonly ast: RuleExpression;
  readonly defaultWindow: RuleWindow;
  /**
   * True when the rule speaks of single predictions outside any aggregate (`forecast >= 0`): it then means
   * `all(<rule>, <default window>)`, i.e. it holds for every prediction in the default window.
   */
  readonly perPrediction: boolean;
}

/** One read of data a rule makes: the rows of a window, with these columns. */
export interface RuleRowsRequest {
  readonly window: RuleWindow;
  /**
   * Column keys: `outputs.<name>`, `inputs.<name>`, `actual`, `prediction` (the model's point prediction),
   * `latency_ms`. Derived values (`error`, `abs_error`, `squared_error`) are computed from `prediction` and
   * `actual`.
   */
  readonly columns: readonly string[];
  /** Only predictions that have an actual (ground truth): the window counts those, newest first. */
  readonly actualsOnly: boolean;
}

/** Everything a rule reads, so a caller can check it against the model (outputs, periods) before running it. */
export interface RuleRequirements {
  readonly outputs: readonly string[];
  readonly inputs: readonly string[];
  readonly observed: readonly ObservedName[];
  readonly references: readonly string[];
  /** One entry per distinct (window, actualsOnly), columns merged. */
  readonly reads: readonly RuleRowsRequest[];
  readonly needsActuals: boolean;
  readonly usesPeriods: boolean;
}

type ValueType = "number" | "boolean";
interface Typed {
  readonly type: ValueType;
  /** Per prediction (a value for each row of a window) rather than one value for the whole rule. */
  readonly row: boolean;
}

const FUNCTIONS_EXPECTED = FUNCTION_NAMES.join(", ");

export function isAggregate(name: string): name is AggregateName {
  return (AGGREGATES as readonly string[]).includes(name);
}
export function isQuantifier(name: string): name is QuantifierName {
  return (QUANTIFIERS as readonly string[]).includes(name);
}
export function isMetric(name: string): name is MetricName {
  return (METRICS as readonly string[]).includes(name);
}
/** A function that reads a window of data: an aggregate, a quantifier or a metric. */
export function isWindowed(name: string): boolean {
  return isAggregate(name) || isQuantifier(name) || isMetric(name);
}

function describeType(t: Typed): string {
  return t.type === "number" ? "a number" : "a condition";
}

class Checker {
  readonly problems: RuleProblem[] = [];
  windowed = 0;

  constructor(
    private readonly positions: RulePositions,
    private readonly options: RuleOptions,
  ) {}

  private problem(
    node: RuleExpression | RuleWindow,
    message: string,
    expected?: string,
    atOperator = false,
  ): void {
    const operator = atOperator && node.kind !== "window" ? this.positions.operator.get(node) : undefined;
    const position = operator ?? this.positions.start.get(node) ?? 0;
    this.problems.push(expected === undefined ? { position, message } : { position, message, expected });
  }

  check(node: RuleExpression): Typed | undefined {
    switch (node.kind) {
      case "number":
        return { type: "number", row: false };
      case "boolean":
        return { type: "boolean", row: false };
      case "output":
      case "input":
      case "observed":
        return { type: "number", row: true };
      case "reference":
        return { type: "number", row: false };
      case "negate": {
        const operand = this.check(node.operand);
        if (operand === undefined) return undefined;
        if (operand.type !== "number") {
          this.problem(node, `"-" needs a number, got ${describeType(operand)}`);
          return undefined;
        }
        return operand;
      }
      case "not": {
        const operand = this.check(node.operand);
        if (operand === undefined) return undefined;
        if (operand.type !== "boolean") {
          this.problem(node, `"not" needs a condition, got ${describeType(operand)}`);
          return undefined;
        }
        return operand;
      }
      case "arithmetic":
      case "compare":
      case "and":
      case "or":
        return this.binary(node);
      case "call":
        return this.call(node);
    }
  }

  private binary(
    node: RuleExpression & { kind: "arithmetic" | "compare" | "and" | "or" },
  ): Typed | undefined {
    const left = this.check(node.left);
    const right = this.check(node.right);
    if (left === undefined || right === undefined) return undefined;
    const row = left.row || right.row;
    const op = node.kind === "and" || node.kind === "or" ? node.kind : node.op;
    const operandType: ValueType | "same" =
      node.kind === "and" || node.kind === "or"
        ? "boolean"
        : node.kind === "compare" && (node.op === "==" || node.op === "!=")
          ? "same"
          : "number";
    if (operandType === "same") {
      if (left.type !== right.type) {
        this.problem(
          node,
          `"${op}" compares two numbers or two conditions, got ${describeType(left)} and ${describeType(right)}`,
          undefined,
          true,
        );
        return undefined;
      }
    } else {
      const bad = [left, right].filter((t) => t.type !== operandType);
      if (bad.length > 0) {
        const want = operandType === "number" ? "numbers" : "conditions";
        this.problem(
          node,
          `"${op}" needs ${want}, got ${describeType(left)} and ${describeType(right)}`,
          operandType === "number" && node.kind === "compare"
            ? '"==" or "!=" to compare conditions'
            : undefined,
          true,
        );
        return undefined;
      }
    }
    return { type: node.kind === "arithmetic" ? "number" : "boolean", row };
  }

  private call(node: RuleExpression & { kind: "call" }): Typed | undefined {
    const name = node.name;
    if (!(FUNCTION_NAMES as readonly string[]).includes(name)) {
      const lower = name.toLowerCase();
      const hint = (FUNCTION_NAMES as readonly string[]).includes(lower)
        ? ` (function names are lowercase: ${lower})`
        : "";
      this.problem(node, `unknown function "${name}"${hint}`, `one of ${FUNCTIONS_EXPECTED}`);
      for (const arg of node.args) if (arg.kind !== "window") this.check(arg);
      return undefined;
    }
    const windows = node.args.filter((a): a is RuleWindow => a.kind === "window");
    const values = node.args.filter((a): a is RuleExpression => a.kind !== "window");
    const windowed = isWindowed(name);
    if (windowed) {
      this.windowed++;
      if (this.windowed === RULE_LIMITS.maxWindowedCalls + 1) {
        this.problem(node, `rule reads more than ${RULE_LIMITS.maxWindowedCalls} windows`);
      }
      const last = node.args[node.args.length - 1];
      if (windows.length > 1) this.problem(windows[1] as RuleWindow, `${name} takes one window`);
      else if (windows.length === 1 && last?.kind !== "window") {
        this.problem(windows[0] as RuleWindow, `the window comes last in ${name}(…)`);
      }
      for (const window of windows) this.window(window);
    } else {
      for (const window of windows) this.problem(window, `${name} takes no window`);
    }
    const signature = SIGNATURES[name as keyof typeof SIGNATURES];
    const [min, max] = signature.arity;
    if (values.length < min || values.length > max) {
      const count = max === 0 ? "no" : min === max ? `${min}` : `${min} or ${max}`;
      this.problem(
        node,
        `${name} takes ${count} argument${max === 1 ? "" : "s"}${windowed ? " besides its window" : ""}, got ${values.length}`,
        `${name}(${signature.usage})`,
      );
      for (const value of values) this.check(value);
      return undefined;
    }
    return this.arguments(name as keyof typeof SIGNATURES, values);
  }

  private arguments(name: keyof typeof SIGNATURES, values: readonly RuleExpression[]): Typed | undefined {
    const types = values.map((v) => this.check(v));
    if (types.some((t) => t === undefined)) return undefined;
    const [first, second] = values;
    const [firstType] = types as Typed[];
    const needRow = (want: ValueType, what: string): boolean => {
      if (first === undefined || firstType === undefined) return true;
      if (firstType.type !== want) {
        this.problem(first, `${name} needs ${what}, got ${describeType(firstType)}`);
        return false;
      }
      if (!firstType.row) {
        this.problem(
          first,
          `${name} needs a value per prediction (such as forecast, abs_error, inputs.x), got one value for the whole rule`,
        );
        return false;
      }
      return true;
    };
    switch (name) {
      case "abs": {
        if (firstType?.type !== "number") {
          if (first !== undefined) this.problem(first, `abs needs a number, got a condition`);
          return undefined;
        }
        return firstType;
      }
      case "mean":
      case "sum":
      case "min":
      case "max":
      case "stddev":
        return needRow("number", "a number") ? { type: "number", row: false } : undefined;
      case "quantile": {
        const ok = needRow("number", "a number");
        const literal = second?.kind === "number" && second.value >= 0 && second.value <= 1;
        if (!literal && second !== undefined)
          this.problem(second, "quantile's level is a number from 0 to 1 (0.99)", "a number from 0 to 1");
        return ok && literal ? { type: "number", row: false } : undefined;
      }
      case "count":
        if (first === undefined) return { type: "number", row: false };
        return needRow("boolean", "a condition") ? { type: "number", row: false } : undefined;
      case "share":
        return needRow("boolean", "a condition") ? { type: "number", row: false } : undefined;
      case "all":
      case "any":
        return needRow("boolean", "a condition") ? { type: "boolean", row: false } : undefined;
      case "coverage": {
        const ok =
          first?.kind === "number" && Number.isInteger(first.value) && first.value >= 1 && first.value <= 99;
        if (!ok && first !== undefined) {
          this.problem(
            first,
            "coverage's level is a whole percentage from 1 to 99 (80 for the 80 % interval)",
            "a whole number from 1 to 99",
          );
        }
        return ok ? { type: "number", row: false } : undefined;
      }
      case "mae":
      case "rmse":
      case "bias":
      case "mase":
      case "accuracy":
        return { type: "number", row: false };
    }
  }

  private window(window: RuleWindow): void {
    if (window.unit === "periods" && this.options.modelKind === "predictor") {
      this.problem(
        window,
        "a window of periods needs a forecast model",
        "predictions, minutes, hours or days",
      );
    }
  }
}

/** Arity (count of non-window arguments) and usage line of every function. */
const SIGNATURES = {
  mean: { arity: [1, 1], usage: "x, last N unit" },
  sum: { arity: [1, 1], usage: "x, last N unit" },
  min: { arity: [1, 1], usage: "x, last N unit" },
  max: { arity: [1, 1], usage: "x, last N unit" },
  stddev: { arity: [1, 1], usage: "x, last N unit" },
  quantile: { arity: [2, 2], usage: "x, 0.99, last N unit" },
  count: { arity: [0, 1], usage: "[condition], last N unit" },
  share: { arity: [1, 1], usage: "condition, last N unit" },
  all: { arity: [1, 1], usage: "condition, last N unit" },
  any: { arity: [1, 1], usage: "condition, last N unit" },
  mae: { arity: [0, 0], usage: "last N unit" },
  rmse: { arity: [0, 0], usage: "last N unit" },
  bias: { arity: [0, 0], usage: "last N unit" },
  mase: { arity: [0, 0], usage: "last N unit" },
  accuracy: { arity: [0, 0], usage: "last N unit" },
  coverage: { arity: [1, 1], usage: "80, last N unit" },
  abs: { arity: [1, 1], usage: "x" },
} as const satisfies Record<string, { arity: readonly [number, number]; usage: string }>;

function checkDefaultWindow(window: RuleWindow, options: RuleOptions): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const limit = RULE_LIMITS.maxWindow[window.unit];
  if (!Number.isInteger(window.size) || window.size < 1 || window.size > limit) {
    problems.push({ position: 0, message: `default window size must be a whole number from 1 to ${limit}` });
  }
  if (window.unit === "periods" && options.modelKind === "predictor") {
    problems.push({ position: 0, message: "the default window of periods needs a forecast model" });
  }
  return problems;
}

/**
 * Parses and checks a rule: syntax, names, function signatures, types, windows and limits. Every failure is
 * a SkalaError RULE_INVALID with `details.problems`, each `{ position, message, expected? }`: a syntax error
 * ends parsing (with the problems found before it); once the text parses, every problem is reported at once.
 *
 * @example
 * const rule = parseRule("coverage(80, last 8 periods) >= 0.7", { modelKind: "forecast" });
 * requirements(rule).reads; // [{ window: { kind: "window", size: 8, unit: "periods" }, columns: [...], actualsOnly: true }]
 */
export function parseRule(text: string, options: RuleOptions = {}): Rule {
  const { ast, positions, problems: syntax } = parseRuleText(text);
  const defaultWindow = options.defaultWindow ?? DEFAULT_RULE_WINDOW;
  const checker = new Checker(positions, options);
  const typed = checker.check(ast);
  const problems = [...checkDefaultWindow(defaultWindow, options), ...syntax, ...checker.problems];
  if (typed !== undefined && typed.type !== "boolean") {
    problems.push({
      position: 0,
      message: "a rule is a condition (such as forecast >= 0), got a number",
      expected: "a comparison",
    });
  }
  if (problems.length > 0) throw ruleInvalid(problems);
  return { text, ast, defaultWindow, perPrediction: typed?.row === true };
}

/** True when the node has a value per prediction (it names one outside any windowed function). */
export function isRowLevel(node: RuleExpression): boolean {
  switch (node.kind) {
    case "output":
    case "input":
    case "observed":
      return true;
    case "number":
    case "boolean":
    case "reference":
      return false;
    case "negate":
    case "not":
      return isRowLevel(node.operand);
    case "arithmetic":
    case "compare":
    case "and":
    case "or":
      return isRowLevel(node.left) || isRowLevel(node.right);
    case "call":
      return !isWindowed(node.name) && node.args.some((a) => a.kind !== "window" && isRowLevel(a));
  }
}

/** The window a windowed call reads: its own, or the rule's default. */
export function callWindow(node: RuleExpression & { kind: "call" }, defaultWindow: RuleWindow): RuleWindow {
  const window = node.args.find((a): a is RuleWindow => a.kind === "window");
  return window ?? defaultWindow;
}

const OBSERVED_COLUMNS: Readonly<Record<ObservedName, readonly string[]>> = {
  actual: ["actual"],
  prediction: ["prediction"],
  error: ["prediction", "actual"],
  abs_error: ["prediction", "actual"],
  squared_error: ["prediction", "actual"],
  latency_ms: ["latency_ms"],
};

/** Columns a per-prediction expression reads from its window (not those of windowed calls inside it). */
function rowColumns(node: RuleArgument, into: Set<string>): void {
  switch (node.kind) {
    case "output":
      into.add(`outputs.${node.name}`);
      return;
    case "input":
      into.add(`inputs.${node.name}`);
      return;
    case "observed":
      for (const column of OBSERVED_COLUMNS[node.name]) into.add(column);
      return;
    case "number":
    case "boolean":
    case "reference":
    case "window":
      return;
    case "negate":
    case "not":
      rowColumns(node.operand, into);
      return;
    case "arithmetic":
    case "compare":
    case "and":
    case "or":
      rowColumns(node.left, into);
      rowColumns(node.right, into);
      return;
    case "call":
      if (!isWindowed(node.name)) for (const arg of node.args) rowColumns(arg, into);
      return;
  }
}

/** The read a windowed call makes (its window, the columns it needs, whether only rows with actuals count). */
export function callRead(
  node: RuleExpression & { kind: "call" },
  defaultWindow: RuleWindow,
): RuleRowsRequest {
  const columns = new Set<string>();
  switch (node.name) {
    case "mae":
    case "rmse":
    case "bias":
    case "mase":
    case "accuracy":
      columns.add("prediction").add("actual");
      break;
    case "coverage": {
      const level = node.args[0]?.kind === "number" ? node.args[0].value : 0;
      columns.add("actual").add(`outputs.lower_${level}`).add(`outputs.upper_${level}`);
      break;
    }
    default:
      for (const arg of node.args) rowColumns(arg, columns);
  }
  return {
    window: callWindow(node, defaultWindow),
    columns: [...columns].sort(),
    actualsOnly: columns.has("actual"),
  };
}

/** The read of a per-prediction rule: the rule itself over the default window. */
export function ruleRead(rule: Rule): RuleRowsRequest | undefined {
  if (!rule.perPrediction) return undefined;
  const columns = new Set<string>();
  rowColumns(rule.ast, columns);
  return { window: rule.defaultWindow, columns: [...columns].sort(), actualsOnly: columns.has("actual") };
}

export function readKey(read: { readonly window: RuleWindow; readonly actualsOnly: boolean }): string {
  return `${printWindow(read.window)}${read.actualsOnly ? " with actuals" : ""}`;
}

function walk(node: RuleArgument, visit: (node: RuleArgument) => void): void {
  visit(node);
  switch (node.kind) {
    case "negate":
    case "not":
      walk(node.operand, visit);
      return;
    case "arithmetic":
    case "compare":
    case "and":
    case "or":
      walk(node.left, visit);
      walk(node.right, visit);
      return;
    case "call":
      for (const arg of node.args) walk(arg, visit);
      return;
    default:
      return;
  }
}

/** Every read a rule makes, in the order of the text, merged by (window, actualsOnly). */
export function ruleReads(rule: Rule): RuleRowsRequest[] {
  const merged = new Map<string, { window: RuleWindow; actualsOnly: boolean; columns: Set<string> }>();
  const add = (read: RuleRowsRequest) => {
    const key = readKey(read);
    const entry = merged.get(key) ?? {
      window: read.window,
      actualsOnly: read.actualsOnly,
      columns: new Set(),
    };
    for (const column of read.columns) entry.columns.add(column);
    merged.set(key, entry);
  };
  const own = ruleRead(rule);
  if (own !== undefined) add(own);
  walk(rule.ast, (node) => {
    if (node.kind === "call" && isWindowed(node.name)) add(callRead(node, rule.defaultWindow));
  });
  return [...merged.values()].map((e) => ({
    window: e.window,
    actualsOnly: e.actualsOnly,
    columns: [...e.columns].sort(),
  }));
}

/** References a rule reads: every `reference.<name>`, and `scale` for `mase`. */
export function ruleReferences(rule: Rule): string[] {
  const names = new Set<string>();
  walk(rule.ast, (node) => {
    if (node.kind === "reference") names.add(node.name);
    if (node.kind === "call" && node.name === "mase") names.add("scale");
  });
  return [...names].sort();
}

/**
 * What a rule needs: the outputs, inputs and observed values it names, the references, and the windows it
 * reads (so a caller can refuse `periods` for a model that has none, or skip a rule whose outputs are absent).
 *
 * @example
 * requirements(parseRule("mean(abs_error, last 100 predictions) <= 1.5 * reference.mae"));
 * // { outputs: [], inputs: [], observed: ["abs_error"], references: ["mae"], needsActuals: true, … }
 */
export function requirements(rule: Rule): RuleRequirements {
  const outputs = new Set<string>();
  const inputs = new Set<string>();
  const observed = new Set<ObservedName>();
  walk(rule.ast, (node) => {
    if (node.kind === "output") outputs.add(node.name);
    if (node.kind === "input") inputs.add(node.name);
    if (node.kind === "observed") observed.add(node.name);
  });
  const reads = ruleReads(rule);
  for (const read of reads) {
    for (const column of read.columns) {
      if (column.startsWith("outputs.")) outputs.add(column.slice("outputs.".length));
    }
  }
  return {
    outputs: [...outputs].sort(),
    inputs: [...inputs].sort(),
    observed: [...observed].sort(),
    references: ruleReferences(rule),
    reads,
    needsActuals: reads.some((r) => r.actualsOnly),
    usesPeriods: reads.some((r) => r.window.unit === "periods"),
  };
}

/** The span of a time window in milliseconds, or undefined for a count of predictions or periods. */
export function windowSpanMs(window: RuleWindow): number | undefined {
  return isTimeUnit(window.unit) ? window.size * UNIT_MS[window.unit] : undefined;
}
