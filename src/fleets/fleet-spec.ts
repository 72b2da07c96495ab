import { basename, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { SkalaError, type ValidationIssue } from "../core/index.js";
import {
  type DistributionKind,
  METHOD_NAMES,
  type MethodName,
  type MethodSpec,
} from "../forecasting/index.js";
import {
  type CandidatePlan,
  SELECTION_METRICS,
  type SegmentPlan,
  type SelectionMetric,
} from "./segment-plan.js";
import {
  DEFAULT_COLUMNS,
  FREQUENCIES,
  type Frequency,
  INVALID_VALUE_POLICIES,
  type InvalidValuePolicy,
  type LoadSeriesOptions,
  NA_POLICIES,
  type NaPolicy,
  type SeriesColumns,
} from "./series-loader.js";

/** Seasonal period of each frequency; `period` in the spec overrides it (e.g. 24 for hourly-like daily data). */
export const FREQUENCY_PERIODS: Readonly<Record<Frequency, number>> = Object.freeze({
  yearly: 1,
  quarterly: 4,
  monthly: 12,
  weekly: 52,
  daily: 7,
});

/** fev's and GluonTS's levels, written out so that 0.3 is 0.3 and not 0.30000000000000004. */
export const DEFAULT_QUANTILES: readonly number[] = Object.freeze([
  0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
]);

export const DISTRIBUTION_KINDS: readonly DistributionKind[] = [
  "auto",
  "analytic",
  "negbin",
  "poisson",
  "empirical",
];

/** A validated, defaulted and frozen fleet spec. */
export interface FleetSpec {
  readonly name: string;
  readonly project: string;
  readonly description: string | undefined;
  readonly dataset: {
    /** Absolute: a relative path in the spec is resolved against the spec file's folder. */
    readonly path: string;
    readonly columns: SeriesColumns;
    readonly na: NaPolicy;
    readonly invalidValues: InvalidValuePolicy;
    /** As written; `toSegmentPlan` derives a default when absent. */
    readonly minLength: number | undefined;
  };
  readonly frequency: Frequency;
  readonly period: number;
  readonly horizon: number;
  readonly candidates: readonly Readonly<CandidatePlan>[];
  readonly validation: Readonly<SegmentPlan["validation"]>;
  readonly selection: { readonly metric: SelectionMetric };
  readonly gate: {
    readonly baseline: Readonly<CandidatePlan>;
    readonly metric: SelectionMetric;
    readonly minImprovementPct: number;
  };
  readonly quantiles: readonly number[];
  readonly holdout: number;
  readonly output: { readonly register: boolean; readonly champion: boolean; readonly atomic: boolean };
}

export interface ParseFleetSpecOptions {
  /** Folder that relative dataset paths are resolved against (the spec file's folder). */
  readonly baseDir: string;
  /** Default: JSON when the text starts with `{`, YAML otherwise. */
  readonly format?: "yaml" | "json";
  /** Shown in messages, e.g. `carparts.fleet.yaml`. */
  readonly fileName?: string;
}

/** A validation issue with the place in the spec text, when it is known (YAML). */
export interface SpecIssue extends ValidationIssue {
  readonly line?: number;
  readonly column?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CANDIDATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_SPEC_CHARS = 1024 * 1024;
const ETS_MODEL = /^([AMZ])([NAMZ])(d?)([NAMZ])$/;

type ParamRule =
  | { readonly kind: "unit"; readonly zero: boolean }
  | { readonly kind: "boolean" }
  | { readonly kind: "positiveInteger" }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "etsModel" };

const UNIT: ParamRule = { kind: "unit", zero: false };
const UNIT_OR_ZERO: ParamRule = { kind: "unit", zero: true };
const BOOLEAN: ParamRule = { kind: "boolean" };

/** Mirrors the forecasting library's own option checks (model.ts), so a valid spec never fails INVALID_OPTIONS. */
const METHOD_PARAMS: Readonly<Record<MethodName, Readonly<Record<string, ParamRule>>>> = {
  naive: {},
  snaive: {},
  mean: {},
  theta: {},
  ses: { alpha: UNIT },
  holt: { alpha: UNIT, beta: UNIT },
  "damped-holt": { alpha: UNIT, beta: UNIT, phi: UNIT },
  "hw-additive": { damped: BOOLEAN },
  "hw-multiplicative": { damped: BOOLEAN },
  ets: {
    model: { kind: "etsModel" },
    damped: BOOLEAN,
    alpha: UNIT,
    beta: UNIT,
    gamma: UNIT_OR_ZERO,
    phi: UNIT,
    ic: { kind: "enum", values: ["aicc", "aic", "bic"] },
    criterion: { kind: "enum", values: ["lik", "mse", "amse", "sigma", "mae"] },
    additiveOnly: BOOLEAN,
  },
  croston: { alpha: UNIT },
  sba: { alpha: UNIT },
  tsb: { alpha: UNIT, beta: UNIT },
  adida: { aggregation: { kind: "positiveInteger" } },
};

/**
 * Shortest series each method can fit at a seasonal period m (src/forecasting/README.md, "minimum length"):
 * the ETS family needs more observations than parameters + 4.
 */
export function methodMinLength(spec: MethodSpec, m: number): number {
  switch (spec.method) {
    case "naive":
    case "mean":
    case "croston":
    case "sba":
    case "tsb":
    case "adida":
      return 2;
    case "snaive":
      return m + 1;
    case "theta":
      return 7;
    case "ses":
      return 7;
    case "holt":
      return 9;
    case "damped-holt":
      return 10;
    case "hw-additive":
    case "hw-multiplicative":
      return m + 9 + (spec.damped ? 1 : 0);
    case "ets": {
      const match = ETS_MODEL.exec(spec.model ?? "ZZZ");
      // Automatic components fall back to smaller models on short series; the smallest (ANN) needs 7.
      if (!match || match[1] === "Z" || match[2] === "Z" || match[4] === "Z") return 7;
      let npars = 2;
      if (match[2] === "A") npars += 2;
      if (match[4] === "A" || match[4] === "M") npars += m;
      if (match[3] === "d" || spec.damped === true) npars += 1;
      return npars + 5;
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown method ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Parses and validates a fleet spec, reporting every problem at once with its path (and line, for YAML).
 * Throws SkalaError VALIDATION_FAILED with `details.issues: SpecIssue[]`.
 *
 * @example
 * const spec = parseFleetSpec(readFileSync("carparts.fleet.yaml", "utf8"), { baseDir: "examples/carparts" });
 * const plan = toSegmentPlan(spec);
 */
export function parseFleetSpec(text: string, options: ParseFleetSpecOptions): FleetSpec {
  const fileName = options.fileName ?? "fleet spec";
  if (typeof text !== "string" || text.length > MAX_SPEC_CHARS) {
    throw specError(fileName, [
      { path: "", message: `the spec must be text of at most ${MAX_SPEC_CHARS} characters` },
    ]);
  }
  const format = options.format ?? (text.trimStart().startsWith("{") ? "json" : "yaml");
  const parsed = format === "json" ? parseJson(text) : parseYaml(text);
  if ("issues" in parsed) throw specError(fileName, parsed.issues);
  const issues: SpecIssue[] = [];
  const spec = validate(parsed.value, new Checker(issues), options.baseDir);
  if (issues.length > 0 || !spec) {
    throw specError(
      fileName,
      issues.map((issue) => ({ ...issue, ...parsed.locate(issue.path) })),
    );
  }
  return deepFreeze(spec);
}

/**
 * What one segment needs, from a validated spec. `minLength`, unless the spec sets it, is
 * holdout + the validation span (size + (origins − 1)·step for rolling origins) + the training part of the
 * earliest origin: the larger of period + 1 (what the seasonal-naive MASE scale needs) and the
 * longest minimum length among the candidates and the baseline.
 */
export function toSegmentPlan(spec: FleetSpec): SegmentPlan {
  const candidates = spec.candidates.map(copyCandidate);
  const baseline = copyCandidate(spec.gate.baseline);
  const validation: SegmentPlan["validation"] =
    spec.validation.scheme === "holdout"
      ? { scheme: "holdout", size: spec.validation.size }
      : {
          scheme: "rolling",
          origins: spec.validation.origins,
          size: spec.validation.size,
          step: spec.validation.step,
        };
  return {
    horizon: spec.horizon,
    period: spec.period,
    candidates,
    validation,
    selectionMetric: spec.selection.metric,
    gate: { baseline, metric: spec.gate.metric, minImprovementPct: spec.gate.minImprovementPct },
    quantiles: [...spec.quantiles],
    holdout: spec.holdout,
    minLength: spec.dataset.minLength ?? defaultMinLength(spec),
  };
}

/** The loader options a spec implies (columns, NA policy, minimum length, frequency for timestamps). */
export function toLoadOptions(spec: FleetSpec): LoadSeriesOptions & { readonly path: string } {
  return {
    path: spec.dataset.path,
    fileName: basename(spec.dataset.path),
    columns: spec.dataset.columns,
    frequency: spec.frequency,
    na: spec.dataset.na,
    invalidValues: spec.dataset.invalidValues,
    minLength: toSegmentPlan(spec).minLength,
  };
}

function defaultMinLength(spec: FleetSpec): number {
  const v = spec.validation;
  const span = v.scheme === "holdout" ? v.size : v.size + (v.origins - 1) * v.step;
  const methods = [...spec.candidates, spec.gate.baseline].map((c) => methodMinLength(c.spec, spec.period));
  return spec.holdout + span + Math.max(spec.period + 1, ...methods);
}

function copyCandidate(c: Readonly<CandidatePlan>): CandidatePlan {
  return { name: c.name, spec: { ...c.spec } as MethodSpec, distribution: c.distribution };
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

type Locate = (path: string) => { line?: number; column?: number };
type Parsed = { readonly value: unknown; readonly locate: Locate } | { readonly issues: SpecIssue[] };

function parseJson(text: string): Parsed {
  // JSON.parse decides what is valid JSON; the YAML parser (JSON is YAML 1.2) only supplies line numbers.
  const positions = parseYaml(text);
  try {
    const value = JSON.parse(text) as unknown;
    return { value, locate: "locate" in positions ? positions.locate : () => ({}) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const offset = /position (\d+)/.exec(message);
    const where = offset
      ? lineColumn(text, Number(offset[1]))
      : "issues" in positions
        ? { line: positions.issues[0]?.line, column: positions.issues[0]?.column }
        : {};
    return { issues: [{ path: "", message: `not valid JSON: ${message}`, ...where }] };
  }
}

function parseYaml(text: string): Parsed {
  const lineCounter = new LineCounter();
  // YAML 1.2 core schema: `no` stays a string, no custom tags; aliases are capped (billion laughs).
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          path: "",
          message: `not valid YAML: ${e.message.split("\n")[0]}`,
          ...(pos ? { line: pos.line, column: pos.col } : {}),
        };
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { issues: [{ path: "", message: `not valid YAML: ${(error as Error).message}` }] };
  }
  const locate: Locate = (path) => {
    const segments = path
      .split("/")
      .slice(1)
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replaceAll("~1", "/").replaceAll("~0", "~")));
    // A missing field has no node: point at the closest ancestor that exists.
    for (let n = segments.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) {
        const pos = lineCounter.linePos(range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
  return { value, locate };
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

function specError(fileName: string, issues: SpecIssue[]): SkalaError {
  const lines = issues.map((issue) => {
    const where = issue.line === undefined ? "" : ` (line ${issue.line}, column ${issue.column})`;
    return `${issue.path || "/"}${where}: ${issue.message}`;
  });
  const message =
    lines.length === 1
      ? `${fileName}: ${lines[0]}`
      : [`${fileName}: ${lines.length} problems`, ...lines.map((l) => `  ${l}`)].join("\n");
  return new SkalaError("VALIDATION_FAILED", message, { issues });
}

// ---------------------------------------------------------------------------------------------------------
// Validation: hand-written rather than a JSON schema so that each message can say what would be right
// (expected values, the nearest known field name) and cross-field rules sit next to the fields.

type Json = Record<string, unknown>;

class Checker {
  constructor(readonly issues: SpecIssue[]) {}

  /** Returns undefined so that `x === undefined ? c.add(…) : c.check(x)` reads as one expression. */
  add(path: string, message: string): undefined {
    this.issues.push({ path, message });
    return undefined;
  }

  /** An object with only the known keys (unknown ones are reported, with a suggestion). */
  object(value: unknown, path: string, known: readonly string[]): Json | undefined {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.add(path, `must be an object, got ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        const near = nearest(key, known);
        this.add(
          `${path}/${escapePointer(key)}`,
          `unknown field${near ? `; did you mean "${near}"?` : `; expected ${known.join(", ")}`}`,
        );
      }
    }
    return value as Json;
  }

  string(value: unknown, path: string, pattern?: RegExp, patternText?: string): string | undefined {
    if (typeof value !== "string") {
      this.add(path, `must be a string, got ${describe(value)}`);
      return undefined;
    }
    if (pattern && !pattern.test(value)) {
      this.add(path, `${JSON.stringify(value)} is not ${patternText ?? `a match for ${pattern}`}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], what: string): T | undefined {
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    const near = typeof value === "string" ? nearest(value, allowed) : undefined;
    this.add(
      path,
      `${typeof value === "string" ? `unknown ${what} ${JSON.stringify(value)}` : `${what} must be a string, got ${describe(value)}`}; expected one of ${allowed.join(", ")}${near ? ` (did you mean "${near}"?)` : ""}`,
    );
    return undefined;
  }

  integer(value: unknown, path: string, min: number, max: number): number | undefined {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.add(path, `must be an integer from ${min} to ${max}, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (typeof value !== "boolean") {
      this.add(path, `must be true or false, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }
}

const TOP_LEVEL = [
  "name",
  "project",
  "description",
  "dataset",
  "frequency",
  "period",
  "horizon",
  "candidates",
  "validation",
  "selection",
  "gate",
  "quantiles",
  "holdout",
  "output",
] as const;

/** Mutable while it is being built; frozen before it leaves parseFleetSpec. */
type Draft = { -readonly [K in keyof FleetSpec]: FleetSpec[K] };

function validate(raw: unknown, c: Checker, baseDir: string): Draft | undefined {
  const root = c.object(raw, "", TOP_LEVEL);
  if (!root) return undefined;
  const name =
    root.name === undefined
      ? c.add("/name", "is required")
      : c.string(
          root.name,
          "/name",
          NAME,
          "a valid fleet name (letters, digits, '.', '_', '-'; starting with a letter or digit; at most 100)",
        );
  const project =
    root.project === undefined ? "default" : c.string(root.project, "/project", NAME, "a valid project name");
  const description = root.description === undefined ? undefined : c.string(root.description, "/description");

  const frequency =
    root.frequency === undefined
      ? c.add("/frequency", `is required; one of ${FREQUENCIES.join(", ")}`)
      : c.oneOf(root.frequency, "/frequency", FREQUENCIES, "frequency");
  const period =
    root.period === undefined
      ? frequency && FREQUENCY_PERIODS[frequency]
      : c.integer(root.period, "/period", 1, 1000);
  const horizon =
    root.horizon === undefined
      ? c.add("/horizon", "is required")
      : c.integer(root.horizon, "/horizon", 1, 1000);

  const dataset = validateDataset(root.dataset, c, baseDir);
  const candidates = validateCandidates(root.candidates, c, period);
  const validation = validateValidation(root.validation, c, horizon);
  const selection =
    root.selection === undefined ? { metric: "wql" as const } : validateSelection(root.selection, c);
  const quantiles = validateQuantiles(root.quantiles, c);
  const candidateNames = Array.isArray(root.candidates) ? root.candidates.map(rawCandidateName) : [];
  const gate = validateGate(root.gate, c, {
    candidates,
    candidateNames,
    selectionMetric: selection?.metric,
    period,
  });
  const holdout = root.holdout === undefined ? 0 : c.integer(root.holdout, "/holdout", 0, 1000);
  const output = validateOutput(root.output, c);

  if (
    name === undefined ||
    project === undefined ||
    (root.description !== undefined && description === undefined) ||
    !dataset ||
    frequency === undefined ||
    period === undefined ||
    horizon === undefined ||
    !candidates ||
    !validation ||
    !selection ||
    !quantiles ||
    !gate ||
    holdout === undefined ||
    !output
  ) {
    return undefined;
  }
  return {
    name,
    project,
    description,
    dataset,
    frequency,
    period,
    horizon,
    candidates,
    validation,
    selection,
    gate,
    quantiles,
    holdout,
    output,
  };
}

function validateDataset(raw: unknown, c: Checker, baseDir: string): FleetSpec["dataset"] | undefined {
  if (raw === undefined) {
    c.add("/dataset", "is required (at least { path: <CSV file> })");
    return undefined;
  }
  const d = c.object(raw, "/dataset", ["path", "columns", "na", "invalidValues", "minLength"]);
  if (!d) return undefined;
  let path: string | undefined;
  if (d.path === undefined) c.add("/dataset/path", "is required");
  else {
    const p = c.string(d.path, "/dataset/path");
    if (p !== undefined && p.trim() === "") c.add("/dataset/path", "must not be empty");
    else if (p?.includes("\0")) c.add("/dataset/path", "must not contain NUL characters");
    else if (p !== undefined) path = resolve(baseDir, p);
  }
  let columns: SeriesColumns | undefined = DEFAULT_COLUMNS;
  if (d.columns !== undefined) {
    const col = c.object(d.columns, "/dataset/columns", ["series", "period", "timestamp", "value"]);
    if (!col) columns = undefined;
    else {
      const column = (key: string, fallback: string): string | undefined => {
        const v = col[key];
        if (v === undefined) return fallback;
        const s = c.string(v, `/dataset/columns/${key}`);
        if (s !== undefined && s.trim() === "") {
          c.add(`/dataset/columns/${key}`, "must not be empty");
          return undefined;
        }
        return s?.trim();
      };
      if (col.period !== undefined && col.timestamp !== undefined) {
        c.add(
          "/dataset/columns/timestamp",
          "give either period (integer indexes) or timestamp (ISO dates), not both",
        );
      }
      const series = column("series", DEFAULT_COLUMNS.series);
      const time =
        col.timestamp !== undefined ? column("timestamp", "") : column("period", DEFAULT_COLUMNS.time);
      const value = column("value", DEFAULT_COLUMNS.value);
      const names = [series, time, value];
      if (new Set(names).size !== names.length && names.every((n) => n !== undefined)) {
        c.add(
          "/dataset/columns",
          `series, time and value must be three different columns, got ${names.join(", ")}`,
        );
      }
      columns =
        series !== undefined && time !== undefined && value !== undefined
          ? { series, time, value, timeKind: col.timestamp !== undefined ? "timestamp" : "period" }
          : undefined;
    }
  }
  const na = d.na === undefined ? "error" : c.oneOf(d.na, "/dataset/na", NA_POLICIES, "NA policy");
  const invalidValues =
    d.invalidValues === undefined
      ? "reject"
      : c.oneOf(d.invalidValues, "/dataset/invalidValues", INVALID_VALUE_POLICIES, "policy");
  const minLength =
    d.minLength === undefined ? undefined : c.integer(d.minLength, "/dataset/minLength", 2, 1_000_000);
  if (!path || !columns || !na || !invalidValues || (d.minLength !== undefined && minLength === undefined)) {
    return undefined;
  }
  return { path, columns, na, invalidValues, minLength };
}

function validateCandidates(
  raw: unknown,
  c: Checker,
  period: number | undefined,
): CandidatePlan[] | undefined {
  if (raw === undefined) {
    c.add("/candidates", "is required: a list of methods to compare");
    return undefined;
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 50) {
    c.add("/candidates", `must be a list of 1 to 50 candidates, got ${describe(raw)}`);
    return undefined;
  }
  const out: CandidatePlan[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  raw.forEach((entry: unknown, i) => {
    const candidate = validateCandidate(entry, `/candidates/${i}`, c, period, true);
    if (candidate) out.push(candidate);
    else ok = false;
    // Checked on the written names, so a duplicate is reported even when either entry has other problems.
    const name = rawCandidateName(entry);
    if (name === undefined) return;
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      ok = false;
      const written = typeof entry === "object" && entry !== null && "name" in entry;
      c.add(
        written ? `/candidates/${i}/name` : `/candidates/${i}`,
        `duplicate candidate name "${name}"${written ? "" : " (the method's name)"} (also /candidates/${earlier}); give each a distinct name`,
      );
    } else seen.set(name, i);
  });
  return ok ? out : undefined;
}

/** The name an entry asks for (its name, or its method), whatever else is wrong with it. */
function rawCandidateName(entry: unknown): string | undefined {
  if (typeof entry === "string") return entry;
  if (typeof entry !== "object" || entry === null) return undefined;
  const { name, method } = entry as Json;
  return typeof name === "string" ? name : typeof method === "string" ? method : undefined;
}

/** `"ses"` is shorthand for `{ method: ses }`. */
function validateCandidate(
  raw: unknown,
  path: string,
  c: Checker,
  period: number | undefined,
  named: boolean,
): CandidatePlan | undefined {
  const entry: Json | undefined =
    typeof raw === "string"
      ? { method: raw }
      : c.object(
          raw,
          path,
          named ? ["name", "method", "params", "distribution"] : ["method", "params", "distribution"],
        );
  if (!entry) return undefined;
  const methodPath = typeof raw === "string" ? path : `${path}/method`;
  const method =
    entry.method === undefined
      ? c.add(methodPath, "is required")
      : c.oneOf(entry.method, methodPath, METHOD_NAMES, "method");
  const name =
    entry.name === undefined
      ? method
      : c.string(
          entry.name,
          `${path}/name`,
          CANDIDATE_NAME,
          "a valid candidate name (letters, digits, '.', '_', '-'; at most 64)",
        );
  const distribution =
    entry.distribution === undefined
      ? "auto"
      : c.oneOf(entry.distribution, `${path}/distribution`, DISTRIBUTION_KINDS, "distribution");
  if (!method) return undefined;
  const spec = validateParams(
    method,
    entry.params,
    { params: `${path}/params`, method: methodPath },
    c,
    period,
  );
  if (!spec || !name || !distribution) return undefined;
  return { name, spec, distribution };
}

function validateParams(
  method: MethodName,
  raw: unknown,
  paths: { params: string; method: string },
  c: Checker,
  period: number | undefined,
): MethodSpec | undefined {
  const path = paths.params;
  const rules = METHOD_PARAMS[method];
  const known = Object.keys(rules);
  if (raw === undefined) return checkSeasonal({ method } as MethodSpec, paths, c, period);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    c.add(path, `must be an object, got ${describe(raw)}`);
    return undefined;
  }
  let ok = true;
  const spec: Record<string, unknown> = { method };
  for (const [key, value] of Object.entries(raw)) {
    const rule = rules[key];
    const at = `${path}/${escapePointer(key)}`;
    if (!rule) {
      ok = false;
      c.add(
        at,
        known.length === 0
          ? `method ${method} takes no parameters`
          : `unknown parameter for ${method}; expected ${known.join(", ")}`,
      );
      continue;
    }
    const checked = checkParam(rule, value, at, c);
    if (checked === undefined) ok = false;
    else spec[key] = checked;
  }
  if (!ok) return undefined;
  return checkSeasonal(spec as MethodSpec, paths, c, period);
}

function checkParam(rule: ParamRule, value: unknown, path: string, c: Checker): unknown {
  switch (rule.kind) {
    case "unit":
      if (
        typeof value !== "number" ||
        !Number.isFinite(value) ||
        value > 1 ||
        (rule.zero ? value < 0 : value <= 0)
      ) {
        c.add(path, `must be a number in ${rule.zero ? "[0" : "(0"}, 1], got ${describe(value)}`);
        return undefined;
      }
      return value;
    case "boolean":
      return c.boolean(value, path);
    case "positiveInteger":
      return c.integer(value, path, 1, 1000);
    case "enum":
      return c.oneOf(value, path, rule.values, "value");
    case "etsModel": {
      const s = c.string(value, path);
      if (s === undefined) return undefined;
      const match = ETS_MODEL.exec(s);
      if (!match) {
        c.add(
          path,
          `${JSON.stringify(s)} is not an ETS model: three letters error (A, M, Z), trend (N, A, Z, optionally followed by d) and season (N, A, M, Z), e.g. "ZZZ" or "AAdN"`,
        );
        return undefined;
      }
      if (match[2] === "M") {
        c.add(
          path,
          `${JSON.stringify(s)}: multiplicative trends are not supported (as R's ets() by default); use N, A or Z`,
        );
        return undefined;
      }
      if (match[1] === "A" && match[4] === "M") {
        c.add(
          path,
          `${JSON.stringify(s)}: additive errors with a multiplicative season are unstable; use M errors or an A season`,
        );
        return undefined;
      }
      if (match[3] === "d" && match[2] === "N") {
        c.add(path, `${JSON.stringify(s)}: a damped model needs a trend`);
        return undefined;
      }
      return s;
    }
    default: {
      const never: never = rule;
      throw new Error(`unknown rule ${JSON.stringify(never)}`);
    }
  }
}

/** Cross-field rules between a method and the seasonal period, so they fail here rather than per series. */
function checkSeasonal(
  spec: MethodSpec,
  paths: { params: string; method: string },
  c: Checker,
  period: number | undefined,
): MethodSpec | undefined {
  const path = paths.params;
  if (period === undefined) return spec;
  if ((spec.method === "hw-additive" || spec.method === "hw-multiplicative") && period < 2) {
    c.add(paths.method, `${spec.method} needs a seasonal period above 1 (the period is ${period})`);
    return undefined;
  }
  if (spec.method === "ets") {
    const match = ETS_MODEL.exec(spec.model ?? "ZZZ");
    const season = match?.[4];
    if ((season === "A" || season === "M") && (period < 2 || period > 24)) {
      c.add(`${path}/model`, `a seasonal ETS model needs a period from 2 to 24 (the period is ${period})`);
      return undefined;
    }
    if (match?.[3] === "d" && spec.damped === false) {
      c.add(`${path}/damped`, `model "${spec.model}" is damped but damped is false`);
      return undefined;
    }
    if (spec.damped === true && match?.[2] === "N") {
      c.add(`${path}/damped`, `model "${spec.model}" has no trend to damp`);
      return undefined;
    }
  }
  return spec;
}

function validateValidation(
  raw: unknown,
  c: Checker,
  horizon: number | undefined,
): SegmentPlan["validation"] | undefined {
  const fallback = horizon ?? 1;
  if (raw === undefined) return { scheme: "holdout", size: fallback };
  const v = c.object(raw, "/validation", ["scheme", "size", "origins", "step"]);
  if (!v) return undefined;
  const scheme =
    v.scheme === undefined
      ? "holdout"
      : c.oneOf(v.scheme, "/validation/scheme", ["holdout", "rolling"] as const, "scheme");
  const size = v.size === undefined ? fallback : c.integer(v.size, "/validation/size", 1, 1000);
  if (scheme === "holdout") {
    if (v.origins !== undefined) c.add("/validation/origins", 'only for scheme "rolling"');
    if (v.step !== undefined) c.add("/validation/step", 'only for scheme "rolling"');
    return size === undefined || v.origins !== undefined || v.step !== undefined
      ? undefined
      : { scheme, size };
  }
  if (scheme !== "rolling") return undefined;
  const origins =
    v.origins === undefined
      ? c.add("/validation/origins", 'is required for scheme "rolling" (1 to 20)')
      : c.integer(v.origins, "/validation/origins", 1, 20);
  const step = v.step === undefined ? 1 : c.integer(v.step, "/validation/step", 1, 1000);
  if (size === undefined || origins === undefined || step === undefined) return undefined;
  return { scheme, origins, size, step };
}

function validateSelection(raw: unknown, c: Checker): { metric: SelectionMetric } | undefined {
  const s = c.object(raw, "/selection", ["metric"]);
  if (!s) return undefined;
  const metric =
    s.metric === undefined ? "wql" : c.oneOf(s.metric, "/selection/metric", SELECTION_METRICS, "metric");
  return metric ? { metric } : undefined;
}

function validateGate(
  raw: unknown,
  c: Checker,
  context: {
    candidates: CandidatePlan[] | undefined;
    candidateNames: (string | undefined)[];
    selectionMetric: SelectionMetric | undefined;
    period: number | undefined;
  },
): FleetSpec["gate"] | undefined {
  const g = raw === undefined ? {} : c.object(raw, "/gate", ["baseline", "metric", "minImprovementPct"]);
  if (!g) return undefined;
  let baseline: CandidatePlan | undefined;
  const b = g.baseline ?? "snaive";
  if (typeof b === "string" && context.candidateNames.includes(b)) {
    // A candidate with problems of its own is reported there; the gate just has no baseline yet.
    baseline = context.candidates?.find((cand) => cand.name === b);
  } else if (typeof b === "string" && !(METHOD_NAMES as readonly string[]).includes(b)) {
    const names = [
      ...new Set([...context.candidateNames.filter((n): n is string => n !== undefined), ...METHOD_NAMES]),
    ];
    const near = nearest(b, names);
    c.add(
      "/gate/baseline",
      `"${b}" is neither a candidate name nor a method; expected one of ${names.join(", ")}${near ? ` (did you mean "${near}"?)` : ""}`,
    );
  } else baseline = validateCandidate(b, "/gate/baseline", c, context.period, false);
  if (baseline && typeof b !== "string") baseline = { ...baseline, name: `baseline-${baseline.spec.method}` };
  const metric =
    g.metric === undefined
      ? context.selectionMetric
      : c.oneOf(g.metric, "/gate/metric", SELECTION_METRICS, "metric");
  let minImprovementPct: number | undefined = 0;
  if (g.minImprovementPct !== undefined) {
    const v = g.minImprovementPct;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= -100 || v >= 100) {
      c.add(
        "/gate/minImprovementPct",
        `must be a number above -100 and below 100 (percent), got ${describe(v)}`,
      );
      minImprovementPct = undefined;
    } else minImprovementPct = v;
  }
  if (!baseline || !metric || minImprovementPct === undefined) return undefined;
  return { baseline, metric, minImprovementPct };
}

function validateQuantiles(raw: unknown, c: Checker): number[] | undefined {
  if (raw === undefined) return [...DEFAULT_QUANTILES];
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 99) {
    c.add("/quantiles", `must be a list of 1 to 99 levels, got ${describe(raw)}`);
    return undefined;
  }
  let ok = true;
  raw.forEach((q: unknown, i) => {
    if (typeof q !== "number" || !(q > 0 && q < 1)) {
      ok = false;
      c.add(`/quantiles/${i}`, `must be a number strictly between 0 and 1, got ${describe(q)}`);
    } else if (i > 0 && typeof raw[i - 1] === "number" && q <= (raw[i - 1] as number)) {
      ok = false;
      c.add(`/quantiles/${i}`, `levels must be strictly increasing: ${q} follows ${raw[i - 1]}`);
    }
  });
  return ok ? (raw as number[]).slice() : undefined;
}

function validateOutput(raw: unknown, c: Checker): FleetSpec["output"] | undefined {
  if (raw === undefined) return { register: true, champion: true, atomic: false };
  const o = c.object(raw, "/output", ["register", "champion", "atomic"]);
  if (!o) return undefined;
  const register = o.register === undefined ? true : c.boolean(o.register, "/output/register");
  // Without registration there is nothing to make champion, so champion follows register unless given.
  const champion = o.champion === undefined ? register : c.boolean(o.champion, "/output/champion");
  const atomic = o.atomic === undefined ? false : c.boolean(o.atomic, "/output/atomic");
  if (register === false && champion === true && o.champion !== undefined) {
    c.add("/output/champion", "champion needs register: true (only registered versions can carry an alias)");
    return undefined;
  }
  if (register === undefined || champion === undefined || atomic === undefined) return undefined;
  return { register, champion, atomic };
}

// ---------------------------------------------------------------------------------------------------------

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return "an object";
  return String(value);
}

function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** The known word within edit distance 2, to turn `horizion` into a hint rather than a puzzle. */
function nearest(word: string, known: readonly string[]): string | undefined {
  if (word.length > 64) return undefined;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
