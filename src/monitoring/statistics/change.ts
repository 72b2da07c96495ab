/**
 * Change detection on a model's forecast errors, in units of its own error spread: scale the errors with
 * `errorScale` (estimated once on validation errors), then run `cusum` or `pageHinkley` over the scaled errors
 * as the actuals arrive. Missing values (NaN) are periods without an observation: the statistics carry over
 * and no alarm is raised there. After an alarm a detector restarts from zero, so later alarms are new changes.
 */
import { invalid, requireFinite } from "./checks.js";
import { quantileSorted } from "./profile.js";

export type SpreadMethod = "mad" | "mae" | "sd";

export interface ErrorScale {
  /** Subtracted before scaling: the median (mad) or mean (mae, sd) of the validation errors. */
  center: number;
  /** A standard-deviation equivalent of the validation errors. */
  spread: number;
  method: SpreadMethod;
}

/**
 * The centre and spread of validation errors, the spread as a standard-deviation equivalent so that k and h
 * mean the same across methods: "mad" 1.4826·median|e − median e| (robust), "mae" √(π/2)·mean|e − mean e|,
 * "sd" the sample sd. A zero spread (constant errors) is refused: nothing could be scaled by it.
 */
export function errorScale(validationErrors: ArrayLike<number>, method: SpreadMethod = "mad"): ErrorScale {
  const e = Float64Array.from(validationErrors as ArrayLike<number>).filter((v) => Number.isFinite(v));
  if (e.length < 2) throw invalid("validationErrors", "needs at least 2 finite errors");
  let center: number;
  let spread: number;
  if (method === "mad") {
    const sorted = Float64Array.from(e).sort();
    center = quantileSorted(sorted, 0.5);
    const dev = Float64Array.from(sorted, (v) => Math.abs(v - center)).sort();
    spread = 1.4826 * quantileSorted(dev, 0.5);
  } else {
    center = e.reduce((s, v) => s + v, 0) / e.length;
    if (method === "mae")
      spread = Math.sqrt(Math.PI / 2) * (e.reduce((s, v) => s + Math.abs(v - center), 0) / e.length);
    else spread = Math.sqrt(e.reduce((s, v) => s + (v - center) ** 2, 0) / (e.length - 1));
  }
  if (!(spread > 0)) throw invalid("validationErrors", `have zero spread by ${method}`);
  return { center, spread, method };
}

/** (e − center) / spread for each error (NaN stays NaN). */
export function scaleErrors(errors: ArrayLike<number>, scale: ErrorScale): Float64Array {
  return Float64Array.from(errors as ArrayLike<number>, (v) => (v - scale.center) / scale.spread);
}

export interface ChangeAlarm {
  index: number;
  direction: "up" | "down";
}

export interface ChangeDetection {
  /** The first alarm's index, or null. */
  firstAlarm: number | null;
  alarms: ChangeAlarm[];
  /** The statistic path for increases and for decreases (before any reset at an alarm). */
  upper: Float64Array;
  lower: Float64Array;
}

export interface CusumOptions {
  /** Reference value (allowance) in spread units; default 0.5, tuned to a shift of 1 spread. */
  k?: number;
  /** Decision threshold in spread units; default 4. */
  h?: number;
}

/**
 * Two-sided tabular CUSUM (Page 1954; Montgomery, Introduction to SQC, §9.1) on scaled errors z:
 * S⁺ₜ = max(0, S⁺ₜ₋₁ + zₜ − k), S⁻ₜ = max(0, S⁻ₜ₋₁ − zₜ − k); an alarm when either exceeds h.
 */
export function cusum(scaled: ArrayLike<number>, options: CusumOptions = {}): ChangeDetection {
  const k = options.k ?? 0.5;
  const h = options.h ?? 4;
  if (!(k >= 0) || !Number.isFinite(k)) throw invalid("k", `must be a finite number ≥ 0, got ${k}`);
  if (!(h > 0) || !Number.isFinite(h)) throw invalid("h", `must be a finite number > 0, got ${h}`);
  const n = scaled.length;
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  const alarms: ChangeAlarm[] = [];
  let up = 0;
  let down = 0;
  for (let t = 0; t < n; t++) {
    const z = scaled[t] as number;
    if (!Number.isNaN(z)) {
      up = Math.max(0, up + z - k);
      down = Math.max(0, down - z - k);
    }
    upper[t] = up;
    lower[t] = down;
    if (Number.isNaN(z)) continue;
    if (up > h || down > h) {
      alarms.push({ index: t, direction: up > h ? "up" : "down" });
      up = 0;
      down = 0;
    }
  }
  return { firstAlarm: alarms[0]?.index ?? null, alarms, upper, lower };
}

export interface PageHinkleyOptions {
  /** Magnitude of change tolerated, in spread units; default 0.5. */
  delta?: number;
  /** Alarm threshold λ in spread units; default 4. */
  lambda?: number;
  /**
   * The in-control mean of the scaled errors. Omitted: the running mean of the observations since the last
   * reset (the classic Page–Hinkley test, as in Gama et al. 2014); 0 for errors centred on validation.
   */
  target?: number;
  /** Observations since the last reset before an alarm may be raised; default 1. */
  minObservations?: number;
}

/**
 * Two-sided Page–Hinkley test: mₜ = Σ (xᵢ − x̄ᵢ − δ) with Mₜ = min mᵢ for increases (and the mirror image for
 * decreases); an alarm when mₜ − Mₜ > λ. x̄ᵢ is the running mean (or `target`). With a target it equals CUSUM
 * with k = δ; the running mean makes it need no centre but detect a level shift more slowly.
 */
export function pageHinkley(scaled: ArrayLike<number>, options: PageHinkleyOptions = {}): ChangeDetection {
  const delta = options.delta ?? 0.5;
  const lambda = options.lambda ?? 4;
  const minObservations = options.minObservations ?? 1;
  if (!(delta >= 0) || !Number.isFinite(delta)) throw invalid("delta", `must be ≥ 0, got ${delta}`);
  if (!(lambda > 0) || !Number.isFinite(lambda)) throw invalid("lambda", `must be > 0, got ${lambda}`);
  if (options.target !== undefined) requireFinite("target", [options.target]);
  const n = scaled.length;
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  const alarms: ChangeAlarm[] = [];
  let count = 0;
  let mean = 0;
  let mUp = 0;
  let minUp = 0;
  let mDown = 0;
  let maxDown = 0;
  for (let t = 0; t < n; t++) {
    const x = scaled[t] as number;
    if (!Number.isNaN(x)) {
      count++;
      mean += (x - mean) / count;
      const centre = options.target ?? mean;
      mUp += x - centre - delta;
      minUp = Math.min(minUp, mUp);
      mDown += x - centre + delta;
      maxDown = Math.max(maxDown, mDown);
    }
    const up = mUp - minUp;
    const down = maxDown - mDown;
    upper[t] = up;
    lower[t] = down;
    if (Number.isNaN(x) || count < minObservations) continue;
    if (up > lambda || down > lambda) {
      alarms.push({ index: t, direction: up > lambda ? "up" : "down" });
      count = 0;
      mean = 0;
      mUp = 0;
      minUp = 0;
      mDown = 0;
      maxDown = 0;
    }
  }
  return { firstAlarm: alarms[0]?.index ?? null, alarms, upper, lower };
}
