/**
 * Check configuration: one document per fleet (or project) whose `checks` apply to every model, with per-model
 * overrides under `models`, validated against one TypeBox schema plus the checks TypeBox cannot express (rule
 * text, duplicate ids, overrides of unknown checks). Every problem is reported at once, as CHECKS_INVALID with
 * `details.issues` (path, message).
 */
import { type Static, type TLiteral, type TSchema, type TUnion, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { SkalaError, type ValidationIssue } from "../../core/index.js";
import { parseRule, type RuleWindow } from "../rules/index.js";

const Severity = Type.Union([Type.Literal("warning"), Type.Literal("critical")]);
const Id = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$" });
const Probability = Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 });
const Fraction = Type.Number({ minimum: 0, maximum: 1 });
const Count = Type.Integer({ minimum: 1, maximum: 1_000_000 });

export const PERFORMANCE_METRICS = [
  "mae",
  "mase",
  "rmse",
  "bias",
  "coverage",
  "accuracy",
  "auc",
  "logloss",
  "ece",
] as const;
export type PerformanceMetric = (typeof PERFORMANCE_METRICS)[number];
export const DRIFT_STATISTICS = ["psi", "ks", "chi2", "js", "wasserstein"] as const;
export type DriftStatistic = (typeof DRIFT_STATISTICS)[number];

const literals = <T extends string>(values: readonly T[]): TUnion<TLiteral<T>[]> =>
  Type.Union(values.map((v) => Type.Literal(v)));

const common = {
  id: Id,
  severity: Type.Optional(Severity),
  /** Observations a check needs before it may say satisfied or violated; fewer gives inconclusive. */
  minSample: Type.Optional(Count),
  enabled: Type.Optional(Type.Boolean()),
};

const PerformanceCheck = Type.Object(
  {
    kind: Type.Literal("performance"),
    ...common,
    metric: literals(PERFORMANCE_METRICS),
    /** The N newest periods (forecasts) or predictions with an actual. */
    window: Count,
    /** How much worse than the reference the metric may be, relative (0.25: 25 % worse). */
    tolerance: Type.Number({ minimum: 0, maximum: 100 }),
    /** Interval level for coverage (80: the central 80 % interval). */
    level: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })),
  },
  { additionalProperties: false },
);

const DriftCheck = Type.Object(
  {
    kind: Type.Literal("drift"),
    ...common,
    /** `prediction` or `inputs.<feature>`. */
    target: Type.String({ pattern: "^(prediction|inputs\\..+)$" }),
    statistic: literals(DRIFT_STATISTICS),
    windowSize: Count,
    /** False-alarm rate per window the calibrated threshold aims at; default `defaults.alpha`. */
    alpha: Type.Optional(Probability),
    /** A fixed threshold chosen by the user; replaces the calibration. */
    threshold: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const ChangeCheck = Type.Object(
  {
    kind: Type.Literal("change"),
    ...common,
    detector: Type.Union([Type.Literal("cusum"), Type.Literal("page-hinkley")]),
    /** Allowance k (CUSUM) or δ (Page–Hinkley), in units of the model's error spread; default 0.5. */
    k: Type.Optional(Type.Number({ minimum: 0, maximum: 10 })),
    /** A fixed decision threshold in spread units; replaces the calibration. */
    h: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1000 })),
    /**
     * Probability of a false alarm within `horizon` periods that the calibrated h aims at; default
     * `defaults.alpha`, else 0.001.
     */
    alpha: Type.Optional(Probability),
    horizon: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    /** How the error spread is estimated: `auto` (default) is MAD unless degenerate, then MAE-based. */
    spread: Type.Optional(
      Type.Union([Type.Literal("auto"), Type.Literal("mad"), Type.Literal("mae"), Type.Literal("sd")]),
    ),
    /** Violated when an alarm fell within the newest `lookback` observations; default 1. */
    lookback: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

const QualityCheck = Type.Object(
  {
    kind: Type.Literal("quality"),
    ...common,
    /** Input features checked; default every feature of the reference. */
    features: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 10_000 })),
    window: Count,
    /** Missing fraction allowed above the reference's own. Default 0.05. */
    maxMissingIncrease: Type.Optional(Fraction),
    /** Share of values outside the reference's [min, max] (or unseen categories) allowed. Default 0.01. */
    maxOutOfRange: Type.Optional(Fraction),
    /** Values of the wrong type or features the window lacks violate the check. Default true. */
    schema: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const RuleWindowSchema = Type.Object(
  {
    size: Count,
    unit: Type.Union([
      Type.Literal("predictions"),
      Type.Literal("periods"),
      Type.Literal("minutes"),
      Type.Literal("hours"),
      Type.Literal("days"),
    ]),
  },
  { additionalProperties: false },
);

const RuleCheck = Type.Object(
  {
    kind: Type.Literal("rule"),
    ...common,
    rule: Type.String({ minLength: 1, maxLength: 4096 }),
    defaultWindow: Type.Optional(RuleWindowSchema),
  },
  { additionalProperties: false },
);

export const CheckSchema = Type.Union([PerformanceCheck, DriftCheck, ChangeCheck, QualityCheck, RuleCheck]);
export type CheckSpec = Static<typeof CheckSchema>;
export type CheckKind = CheckSpec["kind"];
const KIND_SCHEMAS: Record<CheckKind, TSchema> = {
  performance: PerformanceCheck,
  drift: DriftCheck,
  change: ChangeCheck,
  quality: QualityCheck,
  rule: RuleCheck,
};

const Defaults = Type.Object(
  {
    severity: Type.Optional(Severity),
    /** False-alarm rate of every calibrated check without its own (default 0.01; change checks 0.001). */
    alpha: Type.Optional(Probability),
    /** Bootstrap resamples of each calibration. */
    resamples: Type.Optional(Type.Integer({ minimum: 100, maximum: 100_000 })),
    /** Seed of the calibrations (the same seed, reference and config give the same thresholds). */
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1 })),
  },
  { additionalProperties: false },
);

/** A per-model override: `id` names a fleet check (fields replace the fleet's) or, with `kind`, adds one. */
const Override = Type.Object({ id: Id }, { additionalProperties: true });
const ModelOverrides = Type.Object(
  {
    checks: Type.Optional(Type.Array(Override, { maxItems: 1000 })),
    /** Fleet checks switched off for this model. */
    disable: Type.Optional(Type.Array(Id, { maxItems: 1000 })),
  },
  { additionalProperties: false },
);

export const ChecksConfigSchema = Type.Object(
  {
    version: Type.Optional(Type.Literal(1)),
    defaults: Type.Optional(Defaults),
    checks: Type.Array(CheckSchema, { maxItems: 1000 }),
    models: Type.Optional(Type.Record(Type.String({ minLength: 1 }), ModelOverrides)),
  },
  { additionalProperties: false },
);
export type ChecksConfig = Static<typeof ChecksConfigSchema>;

/** The defaults every check falls back to. */
export const CHECK_DEFAULTS = {
  severity: "warning",
  alpha: 0.01,
  resamples: 1000,
  seed: 1,
  // Change checks drive retraining: 0.1 % per 12 periods (carparts: 4.1 % of untouched parts flagged, vs 6.0 % at 1 %).
  change: { k: 0.5, alpha: 0.001, horizon: 12, spread: "auto", lookback: 1 },
  quality: { maxMissingIncrease: 0.05, maxOutOfRange: 0.01, schema: true },
} as const;

interface Resolved {
  readonly severity: "warning" | "critical";
  readonly minSample: number;
}
export type ResolvedPerformanceCheck = Static<typeof PerformanceCheck> & Resolved;
export type ResolvedDriftCheck = Static<typeof DriftCheck> &
  Resolved & { readonly alpha: number; readonly resamples: number; readonly seed: number };
export type ResolvedChangeCheck = Static<typeof ChangeCheck> &
  Resolved & {
    readonly k: number;
    readonly alpha: number;
    readonly horizon: number;
    readonly spread: "auto" | "mad" | "mae" | "sd";
    readonly lookback: number;
    readonly resamples: number;
    readonly seed: number;
  };
export type ResolvedQualityCheck = Static<typeof QualityCheck> &
  Resolved & {
    readonly maxMissingIncrease: number;
    readonly maxOutOfRange: number;
    readonly schema: boolean;
  };
export type ResolvedRuleCheck = Static<typeof RuleCheck> & Resolved;
/** A check with every default filled in: what calibration and evaluation read. */
export type ResolvedCheck =
  | ResolvedPerformanceCheck
  | ResolvedDriftCheck
  | ResolvedChangeCheck
  | ResolvedQualityCheck
  | ResolvedRuleCheck;

function schemaIssues(schema: TSchema, value: unknown, prefix: string): ValidationIssue[] {
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  for (const error of Value.Errors(schema, value)) {
    const path = `${prefix}${error.path}`.replace(/^\//, "");
    const key = `${path}\u0000${error.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ path, message: error.message });
  }
  return issues;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Issues of one check: its kind's schema (not the union's every branch) and what the schema cannot say. */
function checkIssues(check: unknown, path: string): ValidationIssue[] {
  if (!isRecord(check)) return [{ path, message: "must be an object" }];
  const kind = check.kind;
  if (typeof kind !== "string" || !Object.hasOwn(KIND_SCHEMAS, kind))
    return [
      {
        path: `${path}/kind`,
        message: `must be one of ${Object.keys(KIND_SCHEMAS).join(", ")}, got ${JSON.stringify(kind)}`,
      },
    ];
  const issues = schemaIssues(KIND_SCHEMAS[kind as CheckKind], check, `/${path}`);
  if (issues.length > 0) return issues;
  const spec = check as CheckSpec;
  if (spec.kind === "performance" && spec.metric === "coverage" && spec.level === undefined)
    issues.push({ path: `${path}/level`, message: "coverage needs the interval level (e.g. 80)" });
  if (spec.kind === "performance" && spec.metric !== "coverage" && spec.level !== undefined)
    issues.push({ path: `${path}/level`, message: `only coverage takes a level, not ${spec.metric}` });
  if (spec.kind === "drift" && spec.alpha !== undefined && spec.threshold !== undefined)
    issues.push({
      path: `${path}/threshold`,
      message: "give alpha (calibrated threshold) or threshold (fixed), not both",
    });
  if (spec.kind === "change" && spec.alpha !== undefined && spec.h !== undefined)
    issues.push({ path: `${path}/h`, message: "give alpha (calibrated h) or h (fixed), not both" });
  if (spec.kind === "rule") {
    try {
      parseRule(spec.rule, spec.defaultWindow ? { defaultWindow: toRuleWindow(spec.defaultWindow) } : {});
    } catch (error) {
      const problems = (error as SkalaError).details?.problems;
      if (Array.isArray(problems) && problems.length > 0)
        for (const p of problems as { position: number; message: string }[])
          issues.push({ path: `${path}/rule`, message: `at ${p.position}: ${p.message}` });
      else issues.push({ path: `${path}/rule`, message: (error as Error).message });
    }
  }
  return issues;
}

export function toRuleWindow(window: { size: number; unit: RuleWindow["unit"] }): RuleWindow {
  return { kind: "window", size: window.size, unit: window.unit };
}

function duplicateIssues(checks: readonly unknown[], path: string): ValidationIssue[] {
  const first = new Map<string, number>();
  const issues: ValidationIssue[] = [];
  checks.forEach((c, i) => {
    if (!isRecord(c) || typeof c.id !== "string") return;
    const at = first.get(c.id);
    if (at === undefined) first.set(c.id, i);
    else issues.push({ path: `${path}/${i}/id`, message: `"${c.id}" is already the id of ${path}/${at}` });
  });
  return issues;
}

/**
 * Validate a check configuration, reporting every problem at once.
 *
 * @example
 * const config = parseChecksConfig({
 *   checks: [{ id: "mase", kind: "performance", metric: "mase", window: 6, tolerance: 0.3, severity: "critical" }],
 *   models: { "part-17": { checks: [{ id: "mase", tolerance: 0.5 }] } },
 * });
 * resolveChecks(config, "part-17"); // the fleet's checks with part-17's tolerance
 * @throws SkalaError CHECKS_INVALID with details.issues
 */
export function parseChecksConfig(value: unknown): ChecksConfig {
  const issues: ValidationIssue[] = [];
  if (!isRecord(value)) throw invalidChecks([{ path: "", message: "must be an object" }]);
  // The envelope without the checks (each check is validated on its own, against its kind's schema).
  const envelope = { ...value, checks: [], models: isRecord(value.models) ? {} : value.models };
  issues.push(...schemaIssues(ChecksConfigSchema, envelope, ""));
  if (!Array.isArray(value.checks)) issues.push({ path: "checks", message: "must be an array of checks" });
  const checks = Array.isArray(value.checks) ? (value.checks as unknown[]) : [];
  checks.forEach((c, i) => {
    issues.push(...checkIssues(c, `checks/${i}`));
  });
  issues.push(...duplicateIssues(checks, "checks"));
  const fleet = new Map<string, Record<string, unknown>>();
  for (const c of checks) if (isRecord(c) && typeof c.id === "string") fleet.set(c.id, c);
  if (isRecord(value.models)) {
    for (const [model, overrides] of Object.entries(value.models)) {
      const base = `models/${escapeSegment(model)}`;
      issues.push(...schemaIssues(ModelOverrides, overrides, `/${base}`));
      if (!isRecord(overrides)) continue;
      if (Array.isArray(overrides.disable))
        overrides.disable.forEach((id, i) => {
          if (typeof id === "string" && !fleet.has(id))
            issues.push({ path: `${base}/disable/${i}`, message: `no fleet check has the id "${id}"` });
        });
      if (!Array.isArray(overrides.checks)) continue;
      issues.push(...duplicateIssues(overrides.checks, `${base}/checks`));
      overrides.checks.forEach((o, i) => {
        const path = `${base}/checks/${i}`;
        if (!isRecord(o) || typeof o.id !== "string") return;
        const parent = fleet.get(o.id);
        if (parent === undefined && o.kind === undefined) {
          issues.push({
            path: `${path}/id`,
            message: `no fleet check has the id "${o.id}"; give a kind to add a check for this model`,
          });
          return;
        }
        if (parent !== undefined && o.kind !== undefined && o.kind !== parent.kind) {
          issues.push({
            path: `${path}/kind`,
            message: `the fleet check "${o.id}" is a ${parent.kind} check`,
          });
          return;
        }
        issues.push(...checkIssues(parent === undefined ? o : { ...parent, ...o }, path));
      });
    }
  }
  if (issues.length > 0) throw invalidChecks(issues);
  return value as ChecksConfig;
}

function escapeSegment(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

function invalidChecks(issues: ValidationIssue[]): SkalaError {
  const first = issues[0];
  const summary =
    issues.length === 1
      ? `${first?.path || "/"}: ${first?.message}`
      : `${issues.length} problems, first ${first?.path || "/"}: ${first?.message}`;
  return new SkalaError("CHECKS_INVALID", `invalid check configuration: ${summary}`, { issues });
}

/**
 * The checks that apply to one model: the fleet's, with the model's overrides merged by id, its disabled
 * checks and `enabled: false` removed, and every default filled in. `parseChecksConfig` first.
 */
export function resolveChecks(config: ChecksConfig, model?: string): ResolvedCheck[] {
  const overrides = model === undefined ? undefined : config.models?.[model];
  const disabled = new Set(overrides?.disable ?? []);
  const merged = new Map<string, CheckSpec>();
  for (const check of config.checks) merged.set(check.id, check);
  for (const o of overrides?.checks ?? []) {
    const parent = merged.get(o.id);
    merged.set(o.id, (parent === undefined ? o : { ...parent, ...o }) as CheckSpec);
  }
  const d = config.defaults ?? {};
  const severity = d.severity ?? CHECK_DEFAULTS.severity;
  const alpha = d.alpha ?? CHECK_DEFAULTS.alpha;
  const resamples = d.resamples ?? CHECK_DEFAULTS.resamples;
  const seed = d.seed ?? CHECK_DEFAULTS.seed;
  const out: ResolvedCheck[] = [];
  for (const check of merged.values()) {
    if (disabled.has(check.id) || check.enabled === false) continue;
    const base = { severity: check.severity ?? severity };
    switch (check.kind) {
      case "performance":
        out.push({ ...check, ...base, minSample: check.minSample ?? check.window });
        break;
      case "drift":
        out.push({
          ...check,
          ...base,
          minSample: check.minSample ?? check.windowSize,
          alpha: check.alpha ?? alpha,
          resamples,
          seed,
        });
        break;
      case "change": {
        const changeAlpha = check.alpha ?? d.alpha ?? CHECK_DEFAULTS.change.alpha;
        out.push({
          ...check,
          ...base,
          minSample: check.minSample ?? 1,
          k: check.k ?? CHECK_DEFAULTS.change.k,
          alpha: changeAlpha,
          horizon: check.horizon ?? CHECK_DEFAULTS.change.horizon,
          spread: check.spread ?? CHECK_DEFAULTS.change.spread,
          lookback: check.lookback ?? CHECK_DEFAULTS.change.lookback,
          // The threshold is an order statistic: at least 10/α resamples.
          resamples: Math.max(resamples, Math.ceil(10 / changeAlpha)),
          seed,
        });
        break;
      }
      case "quality":
        out.push({
          ...check,
          ...base,
          minSample: check.minSample ?? 1,
          maxMissingIncrease: check.maxMissingIncrease ?? CHECK_DEFAULTS.quality.maxMissingIncrease,
          maxOutOfRange: check.maxOutOfRange ?? CHECK_DEFAULTS.quality.maxOutOfRange,
          schema: check.schema ?? CHECK_DEFAULTS.quality.schema,
        });
        break;
      case "rule":
        out.push({ ...check, ...base, minSample: check.minSample ?? 1 });
        break;
    }
  }
  return out;
}
