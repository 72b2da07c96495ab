/** The one entry point: fit any method to a series, forecast with quantiles, serialise and restore. */

import { fitMean, fitNaive, fitSeasonalNaive } from "./baseline.js";
import { countQuantile, fitNegBinSize, sortedQuantile } from "./distributions.js";
import { etsForecast } from "./ets.js";
import { fitIntermittent } from "./intermittent.js";
import type { MethodFit } from "./method-fit.js";
import { fitSmoothing } from "./smoothing.js";
import { qnorm, qt } from "./special.js";
import { fitTheta, thetaMean } from "./theta.js";
import {
  type CoreState,
  type DistributionKind,
  type DistributionState,
  type FitOptions,
  type FitResult,
  type FittedModel,
  type FittedState,
  type Forecast,
  type ForecastError,
  type ForecastOptions,
  METHOD_NAMES,
  type MethodName,
  type MethodSpec,
  type ModelInfo,
} from "./types.js";

/**
 * Fits a forecasting method to a series. Data problems (too short, NaN, negative demand for a count
 * method, …) come back as `{ ok: false, error }`; nothing here throws for bad data.
 *
 * @example
 * const r = fitModel({ method: "ets" }, Float64Array.from(sales), { period: 12 });
 * if (r.ok) {
 *   const { mean, quantiles } = r.value.forecast(12, { quantiles: [0.1, 0.5, 0.9] });
 *   const artifact = JSON.stringify(r.value.toState()); // restoreModel(JSON.parse(artifact)) later
 * }
 */
export function fitModel(
  method: MethodName | MethodSpec,
  y: ArrayLike<number>,
  options: FitOptions,
): FitResult<FittedModel> {
  const spec: MethodSpec = typeof method === "string" ? ({ method } as MethodSpec) : method;
  if (!METHOD_NAMES.includes(spec.method)) {
    return fail(
      "INVALID_OPTIONS",
      `unknown method "${String(spec.method)}"; expected one of ${METHOD_NAMES.join(", ")}`,
    );
  }
  const period = options.period;
  if (!Number.isInteger(period) || period < 1) {
    return fail("INVALID_OPTIONS", `period must be a positive integer, got ${String(period)}`);
  }
  const distribution = options.distribution ?? "auto";
  if (!DISTRIBUTIONS.includes(distribution)) {
    return fail("INVALID_OPTIONS", `unknown distribution "${String(distribution)}"`);
  }
  const nonNegative = options.nonNegative ?? false;
  if (typeof nonNegative !== "boolean") return fail("INVALID_OPTIONS", "nonNegative must be a boolean");
  const paramError = checkSpec(spec);
  if (paramError) return { ok: false, error: paramError };
  const n = y.length;
  if (n === 0) return fail("TOO_SHORT", "the series is empty", { minLength: 1, length: 0 });
  const series = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = y[i] as number;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      return fail("INVALID_INPUT", `y[${i}] is ${String(v)}; every value must be a finite number`, {
        index: i,
      });
    }
    if (nonNegative && v < 0) {
      return fail("NOT_APPLICABLE", `nonNegative forecasts need non-negative data; y[${i}] is ${v}`, {
        index: i,
      });
    }
    series[i] = v;
  }
  const fitted = fitMethod(spec, series, period);
  if (!fitted.ok) return fitted;
  const dist = attachDistribution(fitted.value, series, distribution);
  if (!dist.ok) return dist;
  const state: FittedState = {
    format: "skala.forecast",
    version: 1,
    method: spec.method,
    label: fitted.value.label,
    period,
    n,
    core: fitted.value.core,
    distribution: dist.value,
    ...(nonNegative ? { nonNegative } : {}),
    info: fitted.value.info,
  };
  return { ok: true, value: new Model(deepFreeze(state), fitted.value.fitted) };
}

/**
 * Why `restoreModel` would refuse a state, or undefined when it would accept it; checks without copying, so a
 * registry can check thousands of stored states cheaply.
 */
export function checkState(state: unknown): string | undefined {
  const problem = validateState(state);
  return problem ? `invalid fitted state: ${problem}` : undefined;
}

/** Rebuilds a fitted model from `toState()` output (for example parsed from a stored artifact). */
export function restoreModel(state: unknown): FitResult<FittedModel> {
  const problem = checkState(state);
  if (problem) return fail("INVALID_STATE", problem);
  return { ok: true, value: new Model(deepFreeze(structuredClone(state as FittedState)), undefined) };
}

const DISTRIBUTIONS: readonly DistributionKind[] = ["auto", "analytic", "negbin", "poisson", "empirical"];

function fail(
  code: ForecastError["code"],
  message: string,
  details?: Record<string, unknown>,
): FitResult<never> {
  return { ok: false, error: details ? { code, message, details } : { code, message } };
}

function checkSpec(spec: MethodSpec): ForecastError | undefined {
  const unit = (name: string, v: unknown, allowZero = false): ForecastError | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !(allowZero ? v >= 0 : v > 0) || v > 1) {
      return {
        code: "INVALID_OPTIONS",
        message: `${spec.method}: ${name} must be a number in ${allowZero ? "[0" : "(0"}, 1], got ${String(v)}`,
      };
    }
    return undefined;
  };
  switch (spec.method) {
    case "naive":
    case "snaive":
    case "mean":
    case "theta":
      return undefined;
    case "ses":
      return unit("alpha", spec.alpha);
    case "holt":
      return unit("alpha", spec.alpha) ?? unit("beta", spec.beta);
    case "damped-holt":
      return unit("alpha", spec.alpha) ?? unit("beta", spec.beta) ?? unit("phi", spec.phi);
    case "hw-additive":
    case "hw-multiplicative":
      return spec.damped === undefined || typeof spec.damped === "boolean"
        ? undefined
        : { code: "INVALID_OPTIONS", message: `${spec.method}: damped must be a boolean` };
    case "ets":
      return (
        unit("alpha", spec.alpha) ??
        unit("beta", spec.beta) ??
        unit("gamma", spec.gamma, true) ??
        unit("phi", spec.phi) ??
        (spec.model === undefined || typeof spec.model === "string"
          ? undefined
          : { code: "INVALID_OPTIONS", message: 'ets: model must be a string such as "ZZZ" or "AAdN"' })
      );
    case "croston":
    case "sba":
      return unit("alpha", spec.alpha);
    case "tsb":
      return unit("alpha", spec.alpha) ?? unit("beta", spec.beta);
    case "adida":
      return spec.aggregation === undefined || (Number.isInteger(spec.aggregation) && spec.aggregation >= 1)
        ? undefined
        : {
            code: "INVALID_OPTIONS",
            message: `adida: aggregation must be a positive integer, got ${String(spec.aggregation)}`,
          };
    default: {
      const never: never = spec;
      return { code: "INVALID_OPTIONS", message: `unknown method ${JSON.stringify(never)}` };
    }
  }
}

function fitMethod(spec: MethodSpec, y: Float64Array, period: number): FitResult<MethodFit> {
  switch (spec.method) {
    case "naive":
      return fitNaive(y);
    case "snaive":
      return fitSeasonalNaive(y, period);
    case "mean":
      return fitMean(y);
    case "ses":
    case "holt":
    case "damped-holt":
    case "hw-additive":
    case "hw-multiplicative":
    case "ets":
      return fitSmoothing(y, period, spec);
    case "theta":
      return fitTheta(y, period);
    case "croston":
    case "sba":
      return fitIntermittent(y, spec.method, { alpha: spec.alpha });
    case "tsb":
      return fitIntermittent(y, "tsb", { alpha: spec.alpha, beta: spec.beta });
    case "adida":
      return fitIntermittent(y, "adida", { aggregation: spec.aggregation });
    default: {
      const never: never = spec;
      return fail("INVALID_OPTIONS", `unknown method ${JSON.stringify(never)}`);
    }
  }
}

function attachDistribution(
  fit: MethodFit,
  y: Float64Array,
  kind: DistributionKind,
): FitResult<DistributionState> {
  const resolved = kind === "auto" ? (fit.intermittent ? "negbin" : "analytic") : kind;
  const needsCounts = resolved === "negbin" || resolved === "poisson";
  if (needsCounts) {
    for (let i = 0; i < y.length; i++) {
      if ((y[i] as number) < 0) {
        return fail(
          "NOT_APPLICABLE",
          `a ${resolved} distribution needs non-negative data; y[${i}] is ${y[i]}`,
          { index: i },
        );
      }
    }
  }
  switch (resolved) {
    case "analytic":
      return { ok: true, value: { kind: "analytic" } };
    case "poisson":
      return { ok: true, value: { kind: "poisson" } };
    case "negbin": {
      const size = fitNegBinSize(y, fit.fitted, fit.calibrationStart);
      return { ok: true, value: Number.isFinite(size) ? { kind: "negbin", size } : { kind: "poisson" } };
    }
    case "empirical": {
      const residuals: number[] = [];
      for (let t = fit.calibrationStart; t < y.length; t++) {
        const f = fit.fitted[t] as number;
        if (Number.isFinite(f)) residuals.push((y[t] as number) - f);
      }
      if (residuals.length === 0) {
        return fail("TOO_SHORT", "no in-sample one-step forecasts to take empirical residual quantiles from");
      }
      residuals.sort((a, b) => a - b);
      return { ok: true, value: { kind: "empirical", residuals } };
    }
    default: {
      const never: never = resolved;
      return fail("INVALID_OPTIONS", `unknown distribution ${String(never)}`);
    }
  }
}

interface CoreForecast {
  readonly mean: Float64Array;
  /** Standard deviation of the analytic predictive distribution per horizon. */
  readonly scale: Float64Array;
  /** Degrees of freedom of a Student t predictive distribution; Infinity for Gaussian. */
  readonly df: number;
}

function coreForecast(core: CoreState, h: number): CoreForecast {
  const mean = new Float64Array(h);
  const scale = new Float64Array(h);
  switch (core.kind) {
    case "naive":
      mean.fill(core.last);
      for (let i = 0; i < h; i++) scale[i] = Math.sqrt(core.sigma2 * (i + 1));
      return { mean, scale, df: Number.POSITIVE_INFINITY };
    case "snaive": {
      const m = core.lastCycle.length;
      for (let i = 0; i < h; i++) {
        mean[i] = core.lastCycle[i % m] as number;
        scale[i] = Math.sqrt(core.sigma2 * (Math.floor(i / m) + 1));
      }
      return { mean, scale, df: Number.POSITIVE_INFINITY };
    }
    case "mean":
      mean.fill(core.mean);
      scale.fill(core.sd * Math.sqrt(1 + 1 / core.n));
      return { mean, scale, df: core.n - 1 };
    case "ets": {
      const f = etsForecast(core, h);
      for (let i = 0; i < h; i++) scale[i] = Math.sqrt(Math.max(f.variance[i] as number, 0));
      return { mean: f.mean, scale, df: Number.POSITIVE_INFINITY };
    }
    case "theta": {
      const s = Math.sqrt(core.sigma2);
      for (let i = 0; i < h; i++) scale[i] = s * Math.sqrt(i * core.alpha * core.alpha + 1);
      return { mean: thetaMean(core, h), scale, df: Number.POSITIVE_INFINITY };
    }
    case "flat":
      mean.fill(core.value);
      for (let i = 0; i < h; i++) scale[i] = Math.sqrt(core.sigma2 * (1 + i * core.alpha * core.alpha));
      return { mean, scale, df: Number.POSITIVE_INFINITY };
    default: {
      const never: never = core;
      throw new Error(`unknown core ${JSON.stringify(never)}`);
    }
  }
}

class Model implements FittedModel {
  readonly #state: FittedState;
  readonly fitted: Float64Array | undefined;

  constructor(state: FittedState, fitted: Float64Array | undefined) {
    this.#state = state;
    this.fitted = fitted;
  }

  get method(): MethodName {
    return this.#state.method;
  }
  get label(): string {
    return this.#state.label;
  }
  get period(): number {
    return this.#state.period;
  }
  get n(): number {
    return this.#state.n;
  }
  get info(): ModelInfo {
    return this.#state.info;
  }
  get distribution(): DistributionState["kind"] {
    return this.#state.distribution.kind;
  }

  forecast(h: number, options: ForecastOptions = {}): Forecast {
    if (!Number.isInteger(h) || h < 1) throw new RangeError(`horizon must be a positive integer, got ${h}`);
    const levels = options.quantiles ?? [];
    for (const p of levels) {
      if (typeof p !== "number" || !(p > 0 && p < 1))
        throw new RangeError(`quantile levels must lie in (0, 1), got ${p}`);
    }
    const base = coreForecast(this.#state.core, h);
    const quantiles = new Map<number, Float64Array>();
    const dist = this.#state.distribution;
    for (const p of levels) {
      if (quantiles.has(p)) continue;
      const q = new Float64Array(h);
      switch (dist.kind) {
        case "analytic": {
          const z = Number.isFinite(base.df) ? qt(p, base.df) : qnorm(p);
          for (let i = 0; i < h; i++) q[i] = (base.mean[i] as number) + (base.scale[i] as number) * z;
          break;
        }
        case "negbin":
        case "poisson": {
          const size = dist.kind === "negbin" ? dist.size : Number.POSITIVE_INFINITY;
          for (let i = 0; i < h; i++) q[i] = countQuantile(p, Math.max(base.mean[i] as number, 0), size);
          break;
        }
        case "empirical": {
          const r = sortedQuantile(dist.residuals, p);
          const s0 = base.scale[0] as number;
          for (let i = 0; i < h; i++) {
            const widen = s0 > 0 && Number.isFinite(s0) ? (base.scale[i] as number) / s0 : 1;
            q[i] = (base.mean[i] as number) + r * widen;
          }
          break;
        }
        default: {
          const never: never = dist;
          throw new Error(`unknown distribution ${JSON.stringify(never)}`);
        }
      }
      if (this.#state.nonNegative) for (let i = 0; i < h; i++) q[i] = Math.max(q[i] as number, 0);
      quantiles.set(p, q);
    }
    if (this.#state.nonNegative)
      for (let i = 0; i < h; i++) base.mean[i] = Math.max(base.mean[i] as number, 0);
    return { mean: base.mean, quantiles };
  }

  toState(): FittedState {
    return this.#state;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// State validation: a stored artifact is input, so check everything forecast() relies on.

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isNumArray = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNum);
const isNullableNum = (v: unknown): boolean => v === null || isNum(v);

function validateCore(core: unknown): string | undefined {
  if (!isObj(core)) return "core must be an object";
  const nums = (...keys: string[]): string | undefined => {
    for (const k of keys) if (!isNum(core[k])) return `core.${k} must be a finite number`;
    return undefined;
  };
  switch (core.kind) {
    case "naive":
      return nums("last", "sigma2");
    case "snaive":
      return isNumArray(core.lastCycle) && core.lastCycle.length > 0
        ? nums("sigma2")
        : "core.lastCycle must be numbers";
    case "mean":
      return nums("mean", "sd", "n") ?? ((core.n as number) >= 2 ? undefined : "core.n must be at least 2");
    case "ets": {
      const bad = nums("m", "alpha", "beta", "gamma", "phi", "sigma2");
      if (bad) return bad;
      if (core.error !== "A" && core.error !== "M") return "core.error must be A or M";
      if (core.trend !== "N" && core.trend !== "A") return "core.trend must be N or A";
      if (core.season !== "N" && core.season !== "A" && core.season !== "M")
        return "core.season must be N, A or M";
      if (typeof core.damped !== "boolean") return "core.damped must be a boolean";
      const m = core.m as number;
      const expected = 1 + (core.trend === "A" ? 1 : 0) + (core.season === "N" ? 0 : m);
      if (!Number.isInteger(m) || m < 1) return "core.m must be a positive integer";
      if (!isNumArray(core.state) || core.state.length !== expected)
        return `core.state must hold ${expected} numbers`;
      return undefined;
    }
    case "theta": {
      const bad = nums("level", "alpha", "drift", "n", "sigma2");
      if (bad) return bad;
      if (!((core.alpha as number) > 0)) return "core.alpha must be positive";
      return core.seasonal === null || (isNumArray(core.seasonal) && core.seasonal.length > 0)
        ? undefined
        : "core.seasonal must be null or numbers";
    }
    case "flat":
      return nums("value", "sigma2", "alpha");
    default:
      return `unknown core kind ${JSON.stringify(core.kind)}`;
  }
}

function validateDistribution(d: unknown): string | undefined {
  if (!isObj(d)) return "distribution must be an object";
  switch (d.kind) {
    case "analytic":
    case "poisson":
      return undefined;
    case "negbin":
      return isNum(d.size) && d.size > 0 ? undefined : "distribution.size must be a positive number";
    case "empirical":
      return isNumArray(d.residuals) && d.residuals.length > 0
        ? undefined
        : "distribution.residuals must be numbers";
    default:
      return `unknown distribution kind ${JSON.stringify(d.kind)}`;
  }
}

function validateState(s: unknown): string | undefined {
  if (!isObj(s)) return "not an object";
  if (s.format !== "skala.forecast") return `format must be "skala.forecast"`;
  if (s.version !== 1) return `unsupported version ${JSON.stringify(s.version)}`;
  if (typeof s.method !== "string" || !METHOD_NAMES.includes(s.method as MethodName)) return "unknown method";
  if (typeof s.label !== "string") return "label must be a string";
  if (!Number.isInteger(s.period) || (s.period as number) < 1) return "period must be a positive integer";
  if (!Number.isInteger(s.n) || (s.n as number) < 1) return "n must be a positive integer";
  const core = validateCore(s.core);
  if (core) return core;
  const dist = validateDistribution(s.distribution);
  if (dist) return dist;
  if (s.nonNegative !== undefined && typeof s.nonNegative !== "boolean")
    return "nonNegative must be a boolean";
  const info = s.info;
  if (!isObj(info) || !isObj(info.params) || !Object.values(info.params).every(isNum))
    return "info.params must map names to numbers";
  for (const k of ["sigma2", "loglik", "aic", "aicc", "bic"]) {
    if (!isNullableNum(info[k])) return `info.${k} must be a number or null`;
  }
  return undefined;
}
