import { basename, resolve } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { SkalaError } from "../core/index.js";
import { METHOD_NAMES, type MethodName, type MethodSpec } from "../forecasting/index.js";
import {
  DEFAULT_QUANTILES,
  DISTRIBUTION_KINDS,
  ETS_MODEL_PATTERN,
  type FleetSpecDocument,
  FleetSpecSchema,
  type MethodForm,
} from "./fleet-spec.schema.js";
import type { CandidatePlan, SegmentPlan, SelectionMetric } from "./segment-plan.js";
import type {
  Frequency,
  InvalidValuePolicy,
  LoadSeriesOptions,
  NaPolicy,
  SeriesColumns,
} from "./series-loader.js";
import { nearest, SchemaIssues } from "./spec-issues.js";
import {
  readSpecText,
  SPEC_LIMITS,
  type SpecDocument,
  type SpecFormat,
  type SpecIssue,
  specValueLimitIssue,
} from "./spec-reader.js";

export { DEFAULT_QUANTILES, DISTRIBUTION_KINDS, FleetSpecSchema, SPEC_LIMITS, type SpecIssue };

/** Seasonal period of each frequency; `period` in the spec overrides it (e.g. 24 for hourly-like daily data). */
export const FREQUENCY_PERIODS: Readonly<Record<Frequency, number>> = Object.freeze({
  yearly: 1,
  quarterly: 4,
  monthly: 12,
  weekly: 52,
  daily: 7,
});

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
  readonly format?: SpecFormat;
  /** Shown in messages, e.g. `carparts.fleet.yaml`. */
  readonly fileName?: string;
}

const ETS_MODEL = new RegExp(ETS_MODEL_PATTERN);
const schemaIssues = new SchemaIssues(FleetSpecSchema);

/**
 * Parses and validates a fleet spec, reporting every problem at once with its path, line and column.
 * Throws SkalaError VALIDATION_FAILED with `details.issues: SpecIssue[]`; a spec past SPEC_LIMITS is refused
 * before it is parsed further, in time linear in its length.
 *
 * @example
 * const spec = parseFleetSpec(readFileSync("carparts.fleet.yaml", "utf8"), { baseDir: "examples/carparts" });
 * const plan = toSegmentPlan(spec);
 */
export function parseFleetSpec(text: string, options: ParseFleetSpecOptions): FleetSpec {
  const fileName = options.fileName ?? "fleet spec";
  if (typeof text !== "string") throw specError(fileName, [{ path: "", message: "the spec must be text" }]);
  const format = options.format ?? (text.trimStart().startsWith("{") ? "json" : "yaml");
  const read = readSpecText(text, format);
  if (!read.ok) throw specError(fileName, read.issues);
  return validated(read.document, options.baseDir, fileName);
}

/**
 * The same checks for a spec that is already a value (a JSON request body), without line numbers: JSON
 * parsers keep the last of duplicate keys, so send the text to have those reported too.
 */
export function validateFleetSpec(value: unknown, options: Omit<ParseFleetSpecOptions, "format">): FleetSpec {
  const fileName = options.fileName ?? "fleet spec";
  const limit = specValueLimitIssue(value);
  if (limit) throw specError(fileName, [limit]);
  return validated({ value, locate: () => ({}) }, options.baseDir, fileName);
}

function validated(document: SpecDocument, baseDir: string, fileName: string): FleetSpec {
  const issues = [
    // One more than can be listed, to know that there are more.
    ...schemaIssues.of(document.value, SPEC_LIMITS.maxIssues + 1),
    ...crossFieldIssues(document.value),
  ];
  if (issues.length > 0) {
    const placed = issues.map((issue, order) => ({ ...issue, ...document.locate(issue.path), order }));
    // In the order they were written; unplaced ones (a spec given as a value) keep the schema's order.
    placed.sort(
      (a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || a.order - b.order,
    );
    throw specError(
      fileName,
      placed.map(({ order: _, ...issue }) => issue),
    );
  }
  // The schema's defaults (project, NA policy, metric, quantiles…); the rest depend on other fields.
  const written = Value.Default(FleetSpecSchema, Value.Clone(document.value)) as FleetSpecDocument;
  return deepFreeze(toFleetSpec(written, baseDir));
}

/** At most SPEC_LIMITS.maxIssues are listed: past that many, the rest are not even looked for. */
function specError(fileName: string, found: SpecIssue[]): SkalaError {
  const truncated = found.length > SPEC_LIMITS.maxIssues;
  const issues = found.slice(0, SPEC_LIMITS.maxIssues);
  const lines = issues.map((issue) => {
    const where = issue.line === undefined ? "" : ` (line ${issue.line}, column ${issue.column})`;
    return `${issue.path || "/"}${where}: ${issue.message}`;
  });
  const message =
    lines.length === 1 && !truncated
      ? `${fileName}: ${lines[0]}`
      : [
          `${fileName}: ${issues.length}${truncated ? "+" : ""} problems`,
          ...lines.map((l) => `  ${l}`),
          ...(truncated ? ["  … and more"] : []),
        ].join("\n");
  return new SkalaError("VALIDATION_FAILED", message, { issues, ...(truncated && { truncated }) });
}

// ---------------------------------------------------------------------------------------------------------
// Rules between fields, which a JSON schema cannot say. They run on the spec as written, next to the schema's
// issues and whatever else is wrong, so each checks the types it relies on.

type Json = Record<string, unknown>;
type Add = (path: string, message: string) => void;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isMethod = (v: unknown): v is MethodName =>
  typeof v === "string" && (METHOD_NAMES as readonly string[]).includes(v);

function crossFieldIssues(raw: unknown): SpecIssue[] {
  if (!isObject(raw)) return [];
  const issues: SpecIssue[] = [];
  const add: Add = (path, message) => {
    issues.push({ path, message });
  };
  const period = periodOf(raw);
  const candidates = Array.isArray(raw.candidates) ? raw.candidates : [];
  const names = candidates.map(writtenName);

  const firstWithName = new Map<string, number>();
  candidates.forEach((entry: unknown, i) => {
    const path = `/candidates/${i}`;
    checkMethodForm(entry, path, period, add);
    // On the written names, so a duplicate is reported even when either entry has other problems.
    const name = names[i];
    if (name === undefined) return;
    const earlier = firstWithName.get(name);
    if (earlier === undefined) {
      firstWithName.set(name, i);
      return;
    }
    const written = isObject(entry) && "name" in entry;
    add(
      written ? `${path}/name` : path,
      `duplicate candidate name "${name}"${written ? "" : " (the method's name)"} (also /candidates/${earlier}); give each a distinct name`,
    );
  });

  const gate = isObject(raw.gate) ? raw.gate : {};
  const baseline = gate.baseline ?? "snaive";
  if (typeof baseline === "string" && !names.includes(baseline)) {
    if (isMethod(baseline)) checkMethodForm(baseline, "/gate/baseline", period, add);
    else {
      const known = [...new Set([...names.filter((n): n is string => n !== undefined), ...METHOD_NAMES])];
      const near = nearest(baseline, known);
      add(
        "/gate/baseline",
        `"${baseline}" is neither a candidate name nor a method; expected one of ${known.join(", ")}${near ? ` (did you mean "${near}"?)` : ""}`,
      );
    }
  } else if (isObject(baseline)) checkMethodForm(baseline, "/gate/baseline", period, add);

  if (isObject(raw.validation)) {
    const v = raw.validation;
    const scheme = v.scheme ?? "holdout";
    if (scheme === "holdout") {
      if (v.origins !== undefined) add("/validation/origins", 'only for scheme "rolling"');
      if (v.step !== undefined) add("/validation/step", 'only for scheme "rolling"');
    } else if (scheme === "rolling" && v.origins === undefined) {
      add("/validation/origins", 'is required for scheme "rolling" (1 to 20)');
    }
  }

  if (Array.isArray(raw.quantiles)) {
    const levels: unknown[] = raw.quantiles;
    levels.forEach((q, i) => {
      const previous = levels[i - 1];
      const isLevel = typeof q === "number" && q > 0 && q < 1;
      if (isLevel && typeof previous === "number" && q <= previous) {
        add(`/quantiles/${i}`, `levels must be strictly increasing: ${q} follows ${previous}`);
      }
    });
  }

  if (isObject(raw.output) && raw.output.register === false && raw.output.champion === true) {
    add("/output/champion", "champion needs register: true (only registered versions can carry an alias)");
  }

  const columns = isObject(raw.dataset) && isObject(raw.dataset.columns) ? raw.dataset.columns : undefined;
  if (columns) {
    if (columns.period !== undefined && columns.timestamp !== undefined) {
      add(
        "/dataset/columns/timestamp",
        "give either period (integer indexes) or timestamp (ISO dates), not both",
      );
    }
    const chosen = [
      columns.series ?? "series_id",
      columns.timestamp ?? columns.period ?? "period_index",
      columns.value ?? "value",
    ];
    if (chosen.every((c) => typeof c === "string")) {
      const trimmed = chosen.map((c) => (c as string).trim());
      if (new Set(trimmed).size !== trimmed.length) {
        add(
          "/dataset/columns",
          `series, time and value must be three different columns, got ${trimmed.join(", ")}`,
        );
      }
    }
  }
  return issues;
}

/** The seasonal period the spec asks for, when the fields it comes from are valid. */
function periodOf(raw: Json): number | undefined {
  const { period, frequency } = raw;
  if (period !== undefined) {
    return Number.isInteger(period) && (period as number) >= 1 && (period as number) <= 1000
      ? (period as number)
      : undefined;
  }
  return typeof frequency === "string" && Object.hasOwn(FREQUENCY_PERIODS, frequency)
    ? FREQUENCY_PERIODS[frequency as Frequency]
    : undefined;
}

/** The name an entry asks for (its name, or its method), whatever else is wrong with it. */
function writtenName(entry: unknown): string | undefined {
  if (typeof entry === "string") return entry;
  if (!isObject(entry)) return undefined;
  const { name, method } = entry;
  return typeof name === "string" ? name : typeof method === "string" ? method : undefined;
}

/**
 * A method's own rules that need more than its fields' types: which ETS models work, and what the seasonal
 * period allows, so that they fail here rather than once per series.
 */
function checkMethodForm(entry: unknown, path: string, period: number | undefined, add: Add): void {
  const shorthand = typeof entry === "string";
  const method = shorthand ? entry : isObject(entry) ? entry.method : undefined;
  if (!isMethod(method)) return;
  const methodPath = shorthand ? path : `${path}/method`;
  const params = isObject(entry) && isObject(entry.params) ? entry.params : {};
  if (method === "hw-additive" || method === "hw-multiplicative") {
    if (period !== undefined && period < 2) {
      add(methodPath, `${method} needs a seasonal period above 1 (the period is ${period})`);
    }
    return;
  }
  if (method !== "ets") return;
  const modelPath = `${path}/params/model`;
  const model = params.model ?? "ZZZ";
  const match = typeof model === "string" ? ETS_MODEL.exec(model) : null;
  if (!match) return; // the schema reports it
  const [, error, trend, damping, season] = match;
  const quoted = JSON.stringify(model);
  if (trend === "M") {
    add(
      modelPath,
      `${quoted}: multiplicative trends are not supported (as R's ets() by default); use N, A or Z`,
    );
  } else if (error === "A" && season === "M") {
    add(
      modelPath,
      `${quoted}: additive errors with a multiplicative season are unstable; use M errors or an A season`,
    );
  } else if (damping === "d" && trend === "N") {
    add(modelPath, `${quoted}: a damped model needs a trend`);
  } else if ((season === "A" || season === "M") && period !== undefined && (period < 2 || period > 24)) {
    add(modelPath, `a seasonal ETS model needs a period from 2 to 24 (the period is ${period})`);
  } else if (damping === "d" && params.damped === false) {
    add(`${path}/params/damped`, `model ${quoted} is damped but damped is false`);
  } else if (params.damped === true && trend === "N") {
    add(`${path}/params/damped`, `model ${quoted} has no trend to damp`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// From the valid spec as written (with the schema's defaults) to the FleetSpec training reads.

type Defaulted<T, K extends keyof T> = T & Required<Pick<T, K>>;

function toFleetSpec(written: FleetSpecDocument, baseDir: string): FleetSpec {
  const dataset = written.dataset as Defaulted<
    FleetSpecDocument["dataset"],
    "columns" | "na" | "invalidValues"
  >;
  const columns = dataset.columns as Defaulted<typeof dataset.columns, "series" | "value">;
  const selection = written.selection as { metric: SelectionMetric };
  const gate = written.gate as Defaulted<
    NonNullable<FleetSpecDocument["gate"]>,
    "baseline" | "minImprovementPct"
  >;
  const output = written.output as Defaulted<NonNullable<FleetSpecDocument["output"]>, "register" | "atomic">;
  const validation = written.validation ?? {};
  const size = validation.size ?? written.horizon;
  const candidates = written.candidates.map((entry) => candidatePlan(entry));
  const baseline = gate.baseline;
  return {
    name: written.name,
    project: written.project as string,
    description: written.description,
    dataset: {
      path: resolve(baseDir, dataset.path),
      columns: {
        series: columns.series.trim(),
        time: (columns.timestamp ?? columns.period ?? "period_index").trim(),
        timeKind: columns.timestamp !== undefined ? "timestamp" : "period",
        value: columns.value.trim(),
      },
      na: dataset.na,
      invalidValues: dataset.invalidValues,
      minLength: dataset.minLength,
    },
    frequency: written.frequency,
    period: written.period ?? FREQUENCY_PERIODS[written.frequency],
    horizon: written.horizon,
    candidates,
    validation:
      validation.scheme === "rolling"
        ? { scheme: "rolling", origins: validation.origins as number, size, step: validation.step ?? 1 }
        : { scheme: "holdout", size },
    selection,
    gate: {
      baseline:
        typeof baseline !== "string"
          ? { ...candidatePlan(baseline), name: `baseline-${baseline.method}` }
          : (candidates.find((c) => c.name === baseline) ?? candidatePlan(baseline as MethodName)),
      metric: gate.metric ?? selection.metric,
      minImprovementPct: gate.minImprovementPct,
    },
    quantiles: [...(written.quantiles as number[])],
    holdout: written.holdout as number,
    output: {
      register: output.register,
      champion: output.champion ?? output.register,
      atomic: output.atomic,
    },
  };
}

/** `"ses"` is shorthand for `{ method: ses }`. */
function candidatePlan(entry: MethodName | MethodForm): CandidatePlan {
  const form = typeof entry === "string" ? { method: entry } : entry;
  return {
    name: form.name ?? form.method,
    spec: { ...form.params, method: form.method } as MethodSpec,
    distribution: form.distribution ?? "auto",
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

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
