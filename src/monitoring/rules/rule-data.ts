import type { RuleWindow } from "./rule-ast.js";
import { isTimeUnit, UNIT_MS } from "./rule-ast.js";
import type { RuleRowsRequest } from "./rule-checker.js";

/**
 * The rows of one window, oldest first (by prediction time). Every column has one value per row (NaN where the row has none);
 * a column the data does not have at all is absent.
 */
export interface RuleRows {
  readonly ids: readonly string[];
  /** The forecast period of each row (any increasing number, e.g. months since 1970), for period windows. */
  readonly periods?: ArrayLike<number>;
  readonly columns: Readonly<Record<string, Float64Array | undefined>>;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * What the evaluator reads, so that any store can serve rules. `rows` answers one window:
 * - `last N predictions`: the N most recent predictions (with `actualsOnly`, the N most recent that have an
 *   actual);
 * - `last N periods`: the rows of the N most recent forecast periods (with `actualsOnly`, periods with actuals);
 * - `last N minutes|hours|days`: the predictions made in (now - span, now], by the store's clock (with
 *   `actualsOnly`, those that have an actual).
 * `reference` answers one value of the model's reference profile, or undefined when it has none.
 */
export interface RuleData {
  rows(request: RuleRowsRequest): MaybePromise<RuleRows>;
  reference(name: string): MaybePromise<number | undefined>;
}

/** One prediction as the in-memory data holds it. */
export interface RuleObservation {
  readonly id: string;
  /** When the prediction was made, in milliseconds since the epoch. */
  readonly at: number;
  /** The forecast period it is for (forecast models). */
  readonly period?: number;
  readonly outputs?: Readonly<Record<string, number>>;
  readonly inputs?: Readonly<Record<string, number>>;
  /** The model's point prediction (the forecast's mean, a regression's value, a classifier's class index). */
  readonly prediction?: number;
  /** The ground truth, once it arrived. */
  readonly actual?: number;
  readonly latencyMs?: number;
}

export interface InMemoryRuleDataOptions {
  readonly observations: readonly RuleObservation[];
  readonly references?: Readonly<Record<string, number>>;
  /** The end of time windows, in milliseconds since the epoch. */
  readonly now: number;
}

/** A record's own numeric value: a name such as `constructor` or `__proto__` reads nothing inherited. */
function own(record: Readonly<Record<string, number>> | undefined, name: string): number | undefined {
  if (record === undefined || !Object.hasOwn(record, name)) return undefined;
  const value = record[name];
  return typeof value === "number" ? value : undefined;
}

function columnValue(observation: RuleObservation, key: string): number | undefined {
  if (key === "actual") return observation.actual;
  if (key === "prediction") return observation.prediction;
  if (key === "latency_ms") return observation.latencyMs;
  if (key.startsWith("outputs.")) return own(observation.outputs, key.slice("outputs.".length));
  if (key.startsWith("inputs.")) return own(observation.inputs, key.slice("inputs.".length));
  return undefined;
}

function selectWindow(rows: readonly RuleObservation[], window: RuleWindow, now: number): RuleObservation[] {
  if (window.unit === "predictions") return rows.slice(Math.max(0, rows.length - window.size));
  if (window.unit === "periods") {
    const periods = [...new Set(rows.flatMap((r) => (r.period === undefined ? [] : [r.period])))].sort(
      (a, b) => a - b,
    );
    const kept = new Set(periods.slice(Math.max(0, periods.length - window.size)));
    return rows.filter((r) => r.period !== undefined && kept.has(r.period));
  }
  const span = window.size * UNIT_MS[isTimeUnit(window.unit) ? window.unit : "minutes"];
  return rows.filter((r) => r.at > now - span && r.at <= now);
}

/**
 * Rule data held in memory: for tests, examples and small batch checks.
 *
 * @example
 * const data = new InMemoryRuleData({ now: Date.now(), observations: [{ id: "p1", at: Date.now(), outputs: { forecast: 3 } }] });
 * await evaluateRule(parseRule("forecast >= 0"), data);
 */
export class InMemoryRuleData implements RuleData {
  private readonly observations: readonly RuleObservation[];
  private readonly references: ReadonlyMap<string, number>;
  private readonly now: number;

  constructor(options: InMemoryRuleDataOptions) {
    // Oldest first by prediction time; ties keep the given order.
    this.observations = [...options.observations].sort((a, b) => a.at - b.at);
    this.references = new Map(Object.entries(options.references ?? {}));
    this.now = options.now;
  }

  rows(request: RuleRowsRequest): RuleRows {
    const candidates = request.actualsOnly
      ? this.observations.filter((o) => o.actual !== undefined)
      : this.observations;
    const rows = selectWindow(candidates, request.window, this.now);
    const columns: Record<string, Float64Array | undefined> = {};
    for (const key of request.columns) {
      if (!this.observations.some((o) => columnValue(o, key) !== undefined)) continue;
      columns[key] = Float64Array.from(rows, (o) => columnValue(o, key) ?? Number.NaN);
    }
    const periods = rows.every((r) => r.period !== undefined)
      ? Float64Array.from(rows, (r) => r.period as number)
      : undefined;
    return periods === undefined
      ? { ids: rows.map((r) => r.id), columns }
      : { ids: rows.map((r) => r.id), periods, columns };
  }

  reference(name: string): number | undefined {
    return this.references.get(name);
  }
}
