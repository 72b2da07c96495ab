import { SkalaError } from "../../core/index.js";
import type { RuleExpression, RuleWindow } from "./rule-ast.js";
import { isTimeUnit, printWindow } from "./rule-ast.js";
import {
  callRead,
  isRowLevel,
  isWindowed,
  type Rule,
  type RuleRowsRequest,
  readKey,
  ruleReads,
  ruleReferences,
} from "./rule-checker.js";
import type { RuleData, RuleRows } from "./rule-data.js";
import { printRule } from "./rule-printer.js";

export type RuleOutcome = "satisfied" | "violated" | "inconclusive";

/** What one windowed function (or a per-prediction rule's implicit `all`) found in its window. */
export interface WindowEvidence {
  /** The function as evaluated, with its window: `coverage(80, last 8 periods)`. */
  readonly expression: string;
  readonly window: RuleWindow;
  /** Only predictions with an actual counted. */
  readonly actualsOnly: boolean;
  /** Rows the window held. */
  readonly rows: number;
  /** Observations used: rows with a known value (distinct periods for a window of periods). */
  readonly observations: number;
  /** The window held as many observations as it asks for (at least one for a time window; `count` asks none). */
  readonly complete: boolean;
  /** The value computed; null when unknown. */
  readonly value: number | boolean | null;
  /** For `all` (and per-prediction rules): predictions where the condition is false, first ids only. */
  readonly violations?: { readonly count: number; readonly ids: readonly string[] };
}

export interface RuleEvaluation {
  readonly outcome: RuleOutcome;
  /** Why the outcome is inconclusive (empty otherwise). */
  readonly reasons: readonly string[];
  readonly windows: readonly WindowEvidence[];
  /** The reference values read; null when the reference profile has none. */
  readonly references: Readonly<Record<string, number | null>>;
}

/** How many violating prediction ids the evidence lists. */
export const MAX_VIOLATION_IDS = 10;

// Three-valued logic (Kleene): false, true, unknown.
const F = 0;
const T = 1;
const U = 2;
type Tri = typeof F | typeof T | typeof U;

export function kleeneNot(a: Tri): Tri {
  return a === U ? U : a === T ? F : T;
}
export function kleeneAnd(a: Tri, b: Tri): Tri {
  if (a === F || b === F) return F;
  return a === U || b === U ? U : T;
}
export function kleeneOr(a: Tri, b: Tri): Tri {
  if (a === T || b === T) return T;
  return a === U || b === U ? U : F;
}

function isBoolean(node: RuleExpression): boolean {
  switch (node.kind) {
    case "compare":
    case "and":
    case "or":
    case "not":
    case "boolean":
      return true;
    case "call":
      return node.name === "all" || node.name === "any";
    default:
      return false;
  }
}

/** Non-finite results (division by zero, overflow) are unknown. */
function finite(x: number): number {
  return Number.isFinite(x) ? x : Number.NaN;
}

function arithmetic(op: "+" | "-" | "*" | "/", a: number, b: number): number {
  switch (op) {
    case "+":
      return finite(a + b);
    case "-":
      return finite(a - b);
    case "*":
      return finite(a * b);
    case "/":
      return finite(a / b);
  }
}

function compare(op: "<" | "<=" | ">" | ">=" | "==" | "!=", a: number, b: number): Tri {
  if (Number.isNaN(a) || Number.isNaN(b)) return U;
  switch (op) {
    case "<":
      return a < b ? T : F;
    case "<=":
      return a <= b ? T : F;
    case ">":
      return a > b ? T : F;
    case ">=":
      return a >= b ? T : F;
    case "==":
      return a === b ? T : F;
    case "!=":
      return a !== b ? T : F;
  }
}

/** R's default (type 7) quantile of sorted values. */
function quantileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return (sorted[lo] as number) + (h - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

type RowValues = Float64Array | Uint8Array;

class Evaluation {
  readonly windows: WindowEvidence[] = [];
  readonly reasons = new Set<string>();

  constructor(
    private readonly reads: ReadonlyMap<string, RuleRows>,
    private readonly references: ReadonlyMap<string, number | undefined>,
    private readonly defaultWindow: RuleWindow,
  ) {}

  /** A number (NaN when unknown) or a Tri, for a node with one value for the whole rule. */
  scalar(node: RuleExpression): number {
    switch (node.kind) {
      case "number":
        return node.value;
      case "boolean":
        return node.value ? T : F;
      case "reference": {
        const value = this.references.get(node.name);
        if (value === undefined) this.reasons.add(`reference.${node.name} is missing`);
        else if (!Number.isFinite(value)) this.reasons.add(`reference.${node.name} is not a finite number`);
        return value === undefined ? Number.NaN : finite(value);
      }
      case "negate":
        return finite(-this.scalar(node.operand));
      case "not":
        return kleeneNot(this.scalar(node.operand) as Tri);
      case "arithmetic": {
        const left = this.scalar(node.left);
        const right = this.scalar(node.right);
        if (node.op === "/" && right === 0) this.reasons.add(`division by zero in ${printRule(node)}`);
        return arithmetic(node.op, left, right);
      }
      case "compare": {
        const left = this.scalar(node.left);
        const right = this.scalar(node.right);
        if (isBoolean(node.left)) {
          if (left === U || right === U) return U;
          return (left === right) === (node.op === "==") ? T : F;
        }
        return compare(node.op, left, right);
      }
      case "and":
        return kleeneAnd(this.scalar(node.left) as Tri, this.scalar(node.right) as Tri);
      case "or":
        return kleeneOr(this.scalar(node.left) as Tri, this.scalar(node.right) as Tri);
      case "call":
        if (isWindowed(node.name)) return this.windowed(node);
        return finite(Math.abs(this.scalar(node.args[0] as RuleExpression)));
      case "output":
      case "input":
      case "observed":
        throw new SkalaError("INTERNAL", `per-prediction value ${printRule(node)} outside a window`);
    }
  }

  private column(rows: RuleRows, key: string): Float64Array {
    const values = rows.columns[key];
    if (values === undefined) {
      this.reasons.add(`no values for ${key}`);
      return new Float64Array(rows.ids.length).fill(Number.NaN);
    }
    if (values.length !== rows.ids.length) {
      throw new SkalaError(
        "INTERNAL",
        `rule data returned ${values.length} values of ${key} for ${rows.ids.length} rows`,
      );
    }
    return values;
  }

  private map(rows: RuleRows, f: (i: number) => number): Float64Array {
    const out = new Float64Array(rows.ids.length);
    for (let i = 0; i < out.length; i++) out[i] = f(i);
    return out;
  }

  private codes(rows: RuleRows, f: (i: number) => Tri): Uint8Array {
    const out = new Uint8Array(rows.ids.length);
    for (let i = 0; i < out.length; i++) out[i] = f(i);
    return out;
  }

  /** One value per row of the window (numbers with NaN for unknown, or Tri codes). */
  row(node: RuleExpression, rows: RuleRows): RowValues {
    if (!isRowLevel(node)) {
      const value = this.scalar(node);
      return isBoolean(node)
        ? new Uint8Array(rows.ids.length).fill(value)
        : new Float64Array(rows.ids.length).fill(value);
    }
    switch (node.kind) {
      case "output":
        return this.column(rows, `outputs.${node.name}`);
      case "input":
        return this.column(rows, `inputs.${node.name}`);
      case "observed": {
        switch (node.name) {
          case "actual":
          case "prediction":
          case "latency_ms":
            return this.column(rows, node.name);
          case "error":
          case "abs_error":
          case "squared_error": {
            const p = this.column(rows, "prediction");
            const a = this.column(rows, "actual");
            const name = node.name;
            return this.map(rows, (i) => {
              const e = finite((p[i] as number) - (a[i] as number));
              return name === "error" ? e : name === "abs_error" ? Math.abs(e) : finite(e * e);
            });
          }
        }
        break;
      }
      case "negate": {
        const x = this.row(node.operand, rows) as Float64Array;
        return this.map(rows, (i) => finite(-(x[i] as number)));
      }
      case "not": {
        const x = this.row(node.operand, rows) as Uint8Array;
        return this.codes(rows, (i) => kleeneNot(x[i] as Tri));
      }
      case "arithmetic": {
        const a = this.row(node.left, rows) as Float64Array;
        const b = this.row(node.right, rows) as Float64Array;
        const op = node.op;
        return this.map(rows, (i) => arithmetic(op, a[i] as number, b[i] as number));
      }
      case "compare": {
        const a = this.row(node.left, rows);
        const b = this.row(node.right, rows);
        const op = node.op;
        if (a instanceof Uint8Array) {
          return this.codes(rows, (i) => {
            const x = a[i] as Tri;
            const y = b[i] as Tri;
            if (x === U || y === U) return U;
            return (x === y) === (op === "==") ? T : F;
          });
        }
        return this.codes(rows, (i) => compare(op, a[i] as number, b[i] as number));
      }
      case "and":
      case "or": {
        const a = this.row(node.left, rows) as Uint8Array;
        const b = this.row(node.right, rows) as Uint8Array;
        const f = node.kind === "and" ? kleeneAnd : kleeneOr;
        return this.codes(rows, (i) => f(a[i] as Tri, b[i] as Tri));
      }
      case "call": {
        // Only abs is per-prediction; windowed calls are scalars, broadcast above.
        const x = this.row(node.args[0] as RuleExpression, rows) as Float64Array;
        return this.map(rows, (i) => Math.abs(x[i] as number));
      }
      default:
        break;
    }
    throw new SkalaError("INTERNAL", `cannot evaluate ${printRule(node)} per prediction`);
  }

  /** Evaluates a windowed function over its window; records its evidence. */
  windowed(node: RuleExpression & { kind: "call" }): number {
    const read = callRead(node, this.defaultWindow);
    const rows = this.rowsFor(read);
    const args = node.args.filter((a): a is RuleExpression => a.kind !== "window");
    const window = read.window;
    const expression = printRule({ kind: "call", name: node.name, args: [...args, window] });
    // Per-row values: numbers for numeric aggregates and metrics, Tri codes for conditions.
    let numbers: Float64Array | undefined;
    let codes: Uint8Array | undefined;
    switch (node.name) {
      case "mae":
      case "mase":
        numbers = this.row({ kind: "observed", name: "abs_error" }, rows) as Float64Array;
        break;
      case "rmse":
        numbers = this.row({ kind: "observed", name: "squared_error" }, rows) as Float64Array;
        break;
      case "bias":
        numbers = this.row({ kind: "observed", name: "error" }, rows) as Float64Array;
        break;
      case "accuracy": {
        const p = this.column(rows, "prediction");
        const a = this.column(rows, "actual");
        codes = this.codes(rows, (i) => compare("==", p[i] as number, a[i] as number));
        break;
      }
      case "coverage": {
        const level = (args[0] as RuleExpression & { kind: "number" }).value;
        const a = this.column(rows, "actual");
        const lo = this.column(rows, `outputs.lower_${level}`);
        const hi = this.column(rows, `outputs.upper_${level}`);
        codes = this.codes(rows, (i) =>
          kleeneAnd(
            compare(">=", a[i] as number, lo[i] as number),
            compare("<=", a[i] as number, hi[i] as number),
          ),
        );
        break;
      }
      case "count":
        codes = args[0] === undefined ? new Uint8Array(rows.ids.length).fill(T) : this.tri(args[0], rows);
        break;
      case "share":
      case "all":
      case "any":
        codes = this.tri(args[0] as RuleExpression, rows);
        break;
      default:
        numbers = this.row(args[0] as RuleExpression, rows) as Float64Array;
    }
    // The known values, compacted, and how many observations they make (distinct periods for a period window).
    const values: RowValues = numbers ?? codes ?? new Uint8Array(0);
    const compact = numbers === undefined ? undefined : new Float64Array(numbers.length);
    const periods = window.unit === "periods" && rows.periods !== undefined ? rows.periods : undefined;
    const distinct = periods === undefined ? undefined : new Set<number>();
    let knownCount = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (compact !== undefined ? Number.isNaN(v) : v === U) continue;
      if (compact !== undefined) compact[knownCount] = v;
      knownCount++;
      distinct?.add(periods?.[i] as number);
    }
    const observations = distinct === undefined ? knownCount : distinct.size;
    const needed = isTimeUnit(window.unit) ? (node.name === "count" ? 0 : 1) : window.size;
    const complete = observations >= needed;
    if (!complete) {
      const unit = window.unit === "periods" ? "periods" : "observations";
      const withActuals = read.actualsOnly ? " with actuals" : "";
      this.reasons.add(
        isTimeUnit(window.unit)
          ? `${expression}: no observations${withActuals} in the ${printWindow(window)}`
          : `${expression}: the window holds ${observations} of ${window.size} ${unit}${withActuals}`,
      );
    }
    let value: number;
    let violations: WindowEvidence["violations"];
    if (codes !== undefined) {
      let trues = 0;
      let falses = 0;
      let unknowns = 0;
      const violating: string[] = [];
      for (let i = 0; i < codes.length; i++) {
        const c = codes[i];
        if (c === T) trues++;
        else if (c === U) unknowns++;
        else {
          falses++;
          if (violating.length < MAX_VIOLATION_IDS) violating.push(rows.ids[i] as string);
        }
      }
      if (unknowns > 0 && (node.name === "all" || node.name === "any")) {
        this.reasons.add(`${expression}: ${unknowns} of ${codes.length} predictions have no known value`);
      }
      switch (node.name) {
        case "all":
          value = falses > 0 ? F : !complete || unknowns > 0 ? U : T;
          violations = { count: falses, ids: violating };
          break;
        case "any":
          value = trues > 0 ? T : !complete || unknowns > 0 ? U : F;
          break;
        case "count":
          value = complete ? trues : Number.NaN;
          break;
        default:
          value = complete && knownCount > 0 ? trues / knownCount : Number.NaN;
      }
    } else {
      const known = (compact as Float64Array).subarray(0, knownCount);
      value = complete ? this.reduce(node, known) : Number.NaN;
    }
    const isCondition = node.name === "all" || node.name === "any";
    const evidence: WindowEvidence = {
      expression,
      window,
      actualsOnly: read.actualsOnly,
      rows: rows.ids.length,
      observations,
      complete,
      value: isCondition ? (value === U ? null : value === T) : Number.isNaN(value) ? null : value,
      ...(violations === undefined ? {} : { violations }),
    };
    this.windows.push(evidence);
    return value;
  }

  private tri(node: RuleExpression, rows: RuleRows): Uint8Array {
    return this.row(node, rows) as Uint8Array;
  }

  private rowsFor(read: RuleRowsRequest): RuleRows {
    const rows = this.reads.get(readKey(read));
    if (rows === undefined) throw new SkalaError("INTERNAL", `no rows read for ${readKey(read)}`);
    return rows;
  }

  private reduce(node: RuleExpression & { kind: "call" }, values: Float64Array): number {
    const n = values.length;
    if (n === 0) return Number.NaN;
    let sum = 0;
    for (const v of values) sum += v;
    const mean = sum / n;
    switch (node.name) {
      case "sum":
        return finite(sum);
      case "min":
        return values.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
      case "max":
        return values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
      case "stddev": {
        if (n < 2) return Number.NaN;
        let squares = 0;
        for (const v of values) squares += (v - mean) * (v - mean);
        return finite(Math.sqrt(squares / (n - 1)));
      }
      case "quantile": {
        const q = (node.args[1] as RuleExpression & { kind: "number" }).value;
        return quantileSorted(values.sort(), q);
      }
      case "rmse":
        return finite(Math.sqrt(mean));
      case "mase": {
        const scale = this.references.get("scale");
        if (scale === undefined) this.reasons.add("reference.scale is missing (the MASE denominator)");
        else if (!(scale > 0)) this.reasons.add("reference.scale is not a positive number");
        return scale !== undefined && scale > 0 ? finite(mean / scale) : Number.NaN;
      }
      default:
        return finite(mean);
    }
  }
}

/** What each rule reads, worked out once per rule: a rule is evaluated again and again. */
const PLANS = new WeakMap<Rule, { reads: readonly RuleRowsRequest[]; names: readonly string[] }>();

/**
 * Evaluates a checked rule: reads every window and reference it needs from `data` (all at once), then
 * computes the outcome with three-valued logic. Never throws for missing or short data: that is
 * `inconclusive`, with the reasons.
 *
 * @example
 * const result = await evaluateRule(parseRule("coverage(80, last 8 periods) >= 0.7"), data);
 * result.outcome; // "satisfied" | "violated" | "inconclusive"
 */
export async function evaluateRule(rule: Rule, data: RuleData): Promise<RuleEvaluation> {
  let plan = PLANS.get(rule);
  if (plan === undefined) {
    plan = { reads: ruleReads(rule), names: ruleReferences(rule) };
    PLANS.set(rule, plan);
  }
  const { reads, names } = plan;
  const [rows, values] = await Promise.all([
    Promise.all(reads.map((read) => data.rows(read))),
    Promise.all(names.map((name) => data.reference(name))),
  ]);
  const byKey = new Map(reads.map((read, i) => [readKey(read), rows[i] as RuleRows]));
  const references = new Map(names.map((name, i) => [name, values[i]]));
  const evaluation = new Evaluation(byKey, references, rule.defaultWindow);
  const root: RuleExpression = rule.perPrediction
    ? { kind: "call", name: "all", args: [rule.ast, rule.defaultWindow] }
    : rule.ast;
  const value = evaluation.scalar(root) as Tri;
  const outcome: RuleOutcome = value === T ? "satisfied" : value === F ? "violated" : "inconclusive";
  const referenceEvidence: Record<string, number | null> = {};
  for (const [name, v] of references) referenceEvidence[name] = v ?? null;
  return {
    outcome,
    reasons: outcome === "inconclusive" ? [...evaluation.reasons] : [],
    windows: evaluation.windows,
    references: referenceEvidence,
  };
}
