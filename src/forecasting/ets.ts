/**
 * Exponential smoothing in innovations state-space form (Hyndman, Koehler, Ord & Snyder 2008), estimated
 * and selected the way R's forecast::ets (8.x) does it, so that results can be checked against R:
 *
 * - the initial states come from the same heuristics (classical decomposition, or a trend + Fourier regression
 *   for fewer than three cycles; a regression on the first observations for level and slope);
 * - smoothing parameters and initial states are estimated together by Nelder–Mead (optim.ts mirrors the
 *   routine R calls) on the same objective (n·log SSE, plus 2·Σ log|ŷ| for multiplicative errors), inside
 *   the "usual" bounds and the admissible (forecastable) region ("both");
 * - automatic selection tries the same combinations (no multiplicative trend; restricted unstable
 *   combinations skipped; multiplicative errors only for positive data) and picks the lowest AICc.
 *
 * Forecast means and variances follow R's analytic results for the three model classes (Hyndman et al.
 * 2008, ch. 6), which cover every model this module fits.
 */

import { decompose, isConstant } from "./decompose.js";
import { add, kronecker, leastSquares, linearFit, matrix, multiply, scale, transpose } from "./linalg.js";
import { type NelderMeadOptions, nelderMead } from "./optim.js";
import type {
  ErrorComponent,
  EtsCriterion,
  FitResult,
  ForecastError,
  InformationCriterion,
  SeasonComponent,
  TrendComponent,
} from "./types.js";

const TOL = 1.0e-10;
const HUGEN = 1.0e10;

export interface EtsComponents {
  readonly error: ErrorComponent;
  readonly trend: TrendComponent;
  readonly damped: boolean;
  readonly season: SeasonComponent;
}

export type Bounds = "both" | "usual" | "admissible";

export interface EtsSettings {
  /** Lower bounds for alpha, beta, gamma, phi. */
  readonly lower: readonly [number, number, number, number];
  readonly upper: readonly [number, number, number, number];
  readonly criterion: EtsCriterion;
  /** Horizons averaged by the "amse" criterion (1..30). */
  readonly nmse: number;
  readonly bounds: Bounds;
  /** Evaluation budget of the optimiser. */
  readonly maxit: number;
  /** Optimiser trace, line for line comparable with R's etsmodel(trace = TRUE); for diagnosing divergence. */
  readonly trace?: NelderMeadOptions["trace"];
}

export const DEFAULT_ETS_SETTINGS: EtsSettings = {
  lower: [1e-4, 1e-4, 1e-4, 0.8],
  upper: [0.9999, 0.9999, 0.9999, 0.98],
  criterion: "lik",
  nmse: 3,
  bounds: "both",
  maxit: 2000,
};

export interface FixedParameters {
  readonly alpha?: number | undefined;
  readonly beta?: number | undefined;
  readonly gamma?: number | undefined;
  readonly phi?: number | undefined;
}

/** One fitted ETS model. */
export interface EtsModelFit {
  readonly components: EtsComponents;
  readonly label: string;
  /** Seasonal period of the model (1 without a seasonal component). */
  readonly m: number;
  readonly alpha: number;
  readonly beta: number;
  readonly gamma: number;
  readonly phi: number;
  /** Parameters as R names them: alpha, beta, gamma, phi, then initial states l, b, s0..s(m-2). */
  readonly par: Readonly<Record<string, number>>;
  /** Initial state including the seasonal state implied by normalisation. */
  readonly initState: Float64Array;
  readonly lastState: Float64Array;
  /** Innovations: additive errors, or relative errors for multiplicative-error models. */
  readonly residuals: Float64Array;
  readonly fitted: Float64Array;
  readonly loglik: number;
  readonly aic: number;
  readonly aicc: number;
  readonly bic: number;
  readonly mse: number;
  readonly amse: number;
  /** Residual variance sum(e²)/(n − number of parameters), as R. */
  readonly sigma2: number;
}

export interface EtsResult extends EtsModelFit {
  readonly candidates: readonly { readonly model: string; readonly ic: number | null }[];
}

export function etsLabel(c: EtsComponents): string {
  return `ETS(${c.error},${c.trend}${c.damped ? "d" : ""},${c.season})`;
}

function modelCode(c: EtsComponents): string {
  return `${c.error}${c.trend}${c.damped ? "d" : ""}${c.season}`;
}

// ---------------------------------------------------------------------------------------------------------
// Filtering: one pass of the state-space recursions (R's etscalc). The seasonal states live in a circular
// buffer, so one step costs O(1) instead of shifting m values.

interface Workspace {
  readonly y: Float64Array;
  readonly n: number;
  readonly m: number;
  readonly multError: boolean;
  readonly trend: boolean;
  /** 0 none, 1 additive, 2 multiplicative. */
  readonly season: 0 | 1 | 2;
  readonly seas: Float64Array;
  readonly amse: Float64Array;
  readonly denom: Float64Array;
  readonly phistar: Float64Array;
  sse: number;
  sae: number;
  lik: number;
}

function makeWorkspace(y: Float64Array, m: number, c: EtsComponents): Workspace {
  return {
    y,
    n: y.length,
    m,
    multError: c.error === "M",
    trend: c.trend === "A",
    season: c.season === "N" ? 0 : c.season === "A" ? 1 : 2,
    seas: new Float64Array(Math.max(m, 1)),
    amse: new Float64Array(30),
    denom: new Float64Array(30),
    phistar: new Float64Array(30),
    sse: 0,
    sae: 0,
    lik: 0,
  };
}

interface CalcOutput {
  readonly e: Float64Array;
  readonly fitted: Float64Array;
  readonly lastState: Float64Array;
}

/**
 * Runs the recursions from `init` ([l, b?, s0..s(m-1)]); sets ws.lik (n·log SSE + 2Σlog|ŷ| for
 * multiplicative errors), ws.sse, ws.sae and, when nmse > 0, ws.amse. Fills `out` when given.
 */
function etsCalc(
  ws: Workspace,
  init: Float64Array,
  alpha: number,
  beta: number,
  gamma: number,
  phi: number,
  nmse: number,
  out?: CalcOutput,
): void {
  const { y, n, m, multError, trend, season, seas, amse, denom } = ws;
  let l = init[0] as number;
  let b = trend ? (init[1] as number) : 0;
  const off = trend ? 2 : 1;
  let p = 0;
  if (season > 0) for (let k = 0; k < m; k++) seas[m - 1 - k] = init[off + k] as number;
  for (let j = 0; j < nmse; j++) {
    amse[j] = 0;
    denom[j] = 0;
  }
  // Cumulative damping factors of the 1..nmse-step forecasts, as R's forecast() accumulates them.
  const phistar = ws.phistar;
  if (nmse > 0) {
    const phiIsOne = Math.abs(phi - 1) < TOL;
    phistar[0] = phi;
    for (let j = 1; j < nmse; j++) phistar[j] = (phistar[j - 1] as number) + (phiIsOne ? 1 : phi ** j);
  }
  const betaOverAlpha = beta / alpha;
  let sse = 0;
  let sae = 0;
  let lik2 = 0;
  for (let i = 0; i < n; i++) {
    const yi = y[i] as number;
    const sOld = season > 0 ? (seas[p] as number) : 0;
    const phib = trend ? phi * b : 0;
    const q = l + phib;
    const f0 = season === 1 ? q + sOld : season === 2 ? q * sOld : q;
    const e = multError ? (yi - f0) / f0 : yi - f0;
    if (nmse > 0) {
      for (let j = 0; j < nmse && i + j < n; j++) {
        let fj = trend ? l + (phistar[j] as number) * b : l;
        if (season > 0) {
          let idx = p + j;
          while (idx >= m) idx -= m;
          fj = season === 1 ? fj + (seas[idx] as number) : fj * (seas[idx] as number);
        }
        const d = (denom[j] as number) + 1;
        denom[j] = d;
        const tmp = (y[i + j] as number) - fj;
        amse[j] = ((amse[j] as number) * (d - 1) + tmp * tmp) / d;
      }
    }
    if (out) {
      out.e[i] = e;
      out.fitted[i] = f0;
    }
    // State update.
    let pp: number;
    if (season === 0) pp = yi;
    else if (season === 1) pp = yi - sOld;
    else pp = Math.abs(sOld) < TOL ? HUGEN : yi / sOld;
    const lNew = q + alpha * (pp - q);
    if (trend) b = phib + betaOverAlpha * (lNew - l - phib);
    if (season > 0) {
      let t: number;
      if (season === 1) t = yi - q;
      else t = Math.abs(q) < TOL ? HUGEN : yi / q;
      seas[p] = sOld + gamma * (t - sOld);
      p++;
      if (p === m) p = 0;
    }
    l = lNew;
    sse += e * e;
    sae += Math.abs(e);
    if (multError) lik2 += Math.log(Math.abs(f0));
  }
  ws.sse = sse;
  ws.sae = sae;
  ws.lik = n * Math.log(sse) + (multError ? 2 * lik2 : 0);
  if (out) {
    out.lastState[0] = l;
    if (trend) out.lastState[1] = b;
    if (season > 0) {
      for (let k = 0; k < m; k++) {
        let idx = p + m - 1 - k;
        while (idx >= m) idx -= m;
        out.lastState[off + k] = seas[idx] as number;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Parameter region.

/**
 * True when every root of the seasonal model's characteristic polynomial lies within 1 + 1e-10 of the unit
 * circle. R finds the roots (cpolyroot); a Schur–Cohn recursion on the polynomial scaled by that radius
 * answers the same question in O(m²) without root finding.
 */
const polyScratch = new Float64Array(32);

function seasonalRootsInside(alpha: number, beta: number, gamma: number, phi: number, m: number): boolean {
  const d = m + 1;
  // Coefficients from the highest power down; monic. A shared scratch buffer: this runs on every objective
  // evaluation of a seasonal model.
  const c = polyScratch;
  c[0] = 1;
  c[1] = alpha + beta - phi;
  for (let i = 2; i < m; i++) c[i] = alpha + beta - alpha * phi;
  c[m] = alpha + beta - alpha * phi + gamma - 1;
  c[m + 1] = phi * (1 - alpha - gamma);
  // p(rho z) / rho^d: coefficient of z^(d-k) becomes c[k] rho^-k.
  const rho = 1 + 1e-10;
  let f = 1;
  for (let k = 1; k <= d; k++) {
    f /= rho;
    c[k] = (c[k] as number) * f;
  }
  for (let deg = d; deg >= 1; deg--) {
    const k = c[deg] as number;
    if (!(Math.abs(k) < 1)) return false;
    const denom = 1 - k * k;
    // Reduce to degree deg-1: b_i = (a_i - k a_{deg-i}) / (1 - k²), staying monic.
    for (let i = 0, j = deg; i <= j; i++, j--) {
      const ai = c[i] as number;
      const aj = c[j] as number;
      c[i] = (ai - k * aj) / denom;
      c[j] = (aj - k * ai) / denom;
    }
  }
  return true;
}

interface ParamFlags {
  readonly optAlpha: boolean;
  readonly optBeta: boolean;
  readonly optGamma: boolean;
  readonly optPhi: boolean;
  readonly givenBeta: boolean;
  readonly givenGamma: boolean;
}

function admissible(
  alpha: number,
  beta: number,
  gamma: number,
  phi: number,
  m: number,
  flags: ParamFlags,
): boolean {
  if (phi < 0 || phi > 1 + 1e-8) return false;
  if (!flags.optGamma && !flags.givenGamma) {
    if (alpha < 1 - 1 / phi || alpha > 1 + 1 / phi) return false;
    if (flags.optBeta || flags.givenBeta) {
      if (beta < alpha * (phi - 1) || beta > (1 + phi) * (2 - alpha)) return false;
    }
  } else if (m > 1) {
    const b = flags.optBeta || flags.givenBeta ? beta : 0;
    const d = 1 - 1 / phi - alpha;
    if (gamma < Math.max(d, 0) || gamma > 1 + 1 / phi - alpha) return false;
    if (alpha < 1 - 1 / phi - (gamma * (1 - m + phi + phi * m)) / (2 * phi * m)) return false;
    if (b < -(1 - phi) * (gamma / m + alpha)) return false;
    return seasonalRootsInside(alpha, b, gamma, phi, m);
  }
  return true;
}

function checkParams(
  alpha: number,
  beta: number,
  gamma: number,
  phi: number,
  lower: readonly number[],
  upper: readonly number[],
  bounds: Bounds,
  m: number,
  flags: ParamFlags,
): boolean {
  if (bounds !== "admissible") {
    if (flags.optAlpha && (alpha < (lower[0] as number) || alpha > (upper[0] as number))) return false;
    if (flags.optBeta && (beta < (lower[1] as number) || beta > alpha || beta > (upper[1] as number)))
      return false;
    if (flags.optPhi && (phi < (lower[3] as number) || phi > (upper[3] as number))) return false;
    if (
      flags.optGamma &&
      (gamma < (lower[2] as number) || gamma > 1 - alpha || gamma > (upper[2] as number))
    ) {
      return false;
    }
  }
  if (bounds !== "usual" && !admissible(alpha, beta, gamma, phi, m, flags)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Initial states (R's initstate).

function sinpi(x: number): number {
  let r = x % 2;
  if (r <= -1) r += 2;
  else if (r > 1) r -= 2;
  if (r === 0 || r === 1) return 0;
  if (r === 0.5) return 1;
  if (r === -0.5) return -1;
  return Math.sin(Math.PI * r);
}

function cospi(x: number): number {
  const r = Math.abs(x) % 2;
  if (r % 1 === 0.5) return 0;
  if (r === 1) return -1;
  if (r === 0) return 1;
  return Math.cos(Math.PI * r);
}

function initialState(
  y: Float64Array,
  period: number,
  trend: TrendComponent,
  season: SeasonComponent,
): Float64Array | undefined {
  const n = y.length;
  let m = 1;
  let ysa: Float64Array = y;
  let initSeas: Float64Array | undefined;
  if (season !== "N") {
    m = period;
    if (n < 4) return undefined;
    let seasonal: Float64Array;
    if (n < 3 * m) {
      // Too few cycles for a decomposition: regress on a trend and one Fourier pair.
      const withSin = m > 2;
      const p = withSin ? 4 : 3;
      const x = new Float64Array(n * p);
      for (let t = 0; t < n; t++) {
        x[t] = 1;
        x[n + t] = t + 1;
        if (withSin) x[2 * n + t] = sinpi((2 * (t + 1)) / m);
        x[(p - 1) * n + t] = cospi((2 * (t + 1)) / m);
      }
      const coef = leastSquares(x, n, p, y);
      if (!coef) return undefined;
      const c0 = coef[0] as number;
      const c1 = coef[1] as number;
      seasonal = new Float64Array(n);
      for (let t = 0; t < n; t++) {
        seasonal[t] =
          season === "A" ? (y[t] as number) - c0 - c1 * (t + 1) : (y[t] as number) / (c0 + c1 * (t + 1));
      }
    } else {
      seasonal = decompose(y, m, season === "A" ? "additive" : "multiplicative").seasonal;
    }
    initSeas = new Float64Array(m - 1);
    for (let j = 0; j < m - 1; j++) initSeas[j] = seasonal[m - 1 - j] as number;
    ysa = new Float64Array(n);
    if (season === "A") {
      for (let t = 0; t < n; t++) ysa[t] = (y[t] as number) - (seasonal[t] as number);
    } else {
      let sum = 0;
      for (let j = 0; j < m - 1; j++) {
        initSeas[j] = Math.max(initSeas[j] as number, 0.01);
        sum += initSeas[j] as number;
      }
      if (sum > m) {
        const denom = sum + 0.01 * (m - 1);
        for (let j = 0; j < m - 1; j++) initSeas[j] = (initSeas[j] as number) / denom;
      }
      for (let t = 0; t < n; t++) ysa[t] = (y[t] as number) / Math.max(seasonal[t] as number, 0.01);
    }
  }
  const maxn = Math.min(Math.max(10, 2 * m), n);
  const nstate = 1 + (trend === "A" ? 1 : 0) + (initSeas ? initSeas.length : 0);
  const out = new Float64Array(nstate);
  if (trend === "N") {
    let s = 0;
    for (let t = 0; t < maxn; t++) s += ysa[t] as number;
    out[0] = s / maxn;
  } else {
    const xs = new Float64Array(maxn);
    for (let t = 0; t < maxn; t++) xs[t] = t + 1;
    let [l0, b0] = linearFit(xs, ysa, maxn);
    if (Math.abs(l0 + b0) < 1e-8) {
      l0 *= 1 + 1e-3;
      b0 *= 1 - 1e-3;
    }
    out[0] = l0;
    out[1] = b0;
  }
  if (initSeas) out.set(initSeas, 1 + (trend === "A" ? 1 : 0));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Estimation of one model (R's etsmodel).

/**
 * Fits one ETS model with the given components. Returns undefined where R's ets() would record an infinite
 * information criterion (too many parameters, inadmissible start, failed initialisation).
 */
export function fitEtsModel(
  y: Float64Array,
  period: number,
  components: EtsComponents,
  fixed: FixedParameters = {},
  settings: EtsSettings = DEFAULT_ETS_SETTINGS,
): EtsModelFit | undefined {
  const { trend, season, damped } = components;
  const hasTrend = trend !== "N";
  const hasSeason = season !== "N";
  const m = hasSeason ? period : 1;
  const n = y.length;
  const lower = [...settings.lower];
  const upper = [...settings.upper];
  if (fixed.alpha !== undefined) {
    upper[1] = Math.min(fixed.alpha, upper[1] as number);
    upper[2] = Math.min(1 - fixed.alpha, upper[2] as number);
  }
  if (fixed.beta !== undefined) lower[0] = Math.max(fixed.beta, lower[0] as number);
  if (fixed.gamma !== undefined) upper[0] = Math.min(1 - fixed.gamma, upper[0] as number);

  // Starting values (R's initparam, which works on its own copy of the bounds).
  const il = [...lower];
  const iu = [...upper];
  if (settings.bounds === "admissible") {
    for (let i = 0; i < 3; i++) {
      il[i] = 0;
      iu[i] = 1e-3;
    }
  } else if (il.some((v, i) => v > (iu[i] as number))) {
    return undefined;
  }
  const flags: ParamFlags = {
    optAlpha: fixed.alpha === undefined,
    optBeta: hasTrend && fixed.beta === undefined,
    optGamma: hasSeason && fixed.gamma === undefined,
    optPhi: damped && fixed.phi === undefined,
    givenBeta: hasTrend && fixed.beta !== undefined,
    givenGamma: hasSeason && fixed.gamma !== undefined,
  };
  let alpha = fixed.alpha ?? (il[0] as number) + (0.2 * ((iu[0] as number) - (il[0] as number))) / m;
  if (flags.optAlpha && (alpha > 1 || alpha < 0)) alpha = (il[0] as number) + 2e-3;
  let beta = 0;
  if (hasTrend) {
    if (flags.optBeta) {
      const u = Math.min(iu[1] as number, alpha);
      beta = (il[1] as number) + 0.1 * (u - (il[1] as number));
      if (beta < 0 || beta > alpha) beta = alpha - 1e-3;
    } else {
      beta = fixed.beta as number;
    }
  }
  let gamma = 0;
  if (hasSeason) {
    if (flags.optGamma) {
      const u = Math.min(iu[2] as number, 1 - alpha);
      gamma = (il[2] as number) + 0.05 * (u - (il[2] as number));
      if (gamma < 0 || gamma > 1 - alpha) gamma = 1 - alpha - 1e-3;
    } else {
      gamma = fixed.gamma as number;
    }
  }
  let phi = 1;
  if (damped) {
    if (flags.optPhi) {
      phi = (il[3] as number) + 0.99 * ((iu[3] as number) - (il[3] as number));
      if (phi < 0 || phi > 1) phi = (iu[3] as number) - 1e-3;
    } else {
      phi = fixed.phi as number;
    }
  }
  // R checks the starting point including fixed values (check.param).
  const allFlags: ParamFlags = {
    optAlpha: true,
    optBeta: hasTrend,
    optGamma: hasSeason,
    optPhi: damped,
    givenBeta: false,
    givenGamma: false,
  };
  if (!checkParams(alpha, beta, gamma, phi, lower, upper, settings.bounds, m, allFlags)) return undefined;

  const init = initialState(y, period, trend, season);
  if (!init) return undefined;
  const nstate = init.length;
  const nopt =
    (flags.optAlpha ? 1 : 0) + (flags.optBeta ? 1 : 0) + (flags.optGamma ? 1 : 0) + (flags.optPhi ? 1 : 0);
  const np = nopt + nstate;
  if (np >= n - 1) return undefined;

  const start = new Float64Array(np);
  let k = 0;
  if (flags.optAlpha) start[k++] = alpha;
  if (flags.optBeta) start[k++] = beta;
  if (flags.optGamma) start[k++] = gamma;
  if (flags.optPhi) start[k++] = phi;
  start.set(init, nopt);

  const ws = makeWorkspace(y, m, components);
  const full = new Float64Array(nstate + (hasSeason ? 1 : 0));
  const seasonStart = hasTrend ? 2 : 1;
  const nmseUsed =
    settings.criterion === "mse" || settings.criterion === "amse" ? Math.min(settings.nmse, 30) : 0;
  const fixedAlpha = alpha;
  const fixedBeta = beta;
  const fixedGamma = gamma;
  const fixedPhi = phi;

  /** Writes the full initial state (with the normalising seasonal state); false when it is inadmissible. */
  const unpackState = (par: Float64Array): boolean => {
    for (let i = 0; i < nstate; i++) full[i] = par[nopt + i] as number;
    if (hasSeason) {
      let sum = 0;
      for (let i = seasonStart; i < nstate; i++) sum += full[i] as number;
      full[nstate] = (season === "M" ? m : 0) - sum;
      if (season === "M") {
        for (let i = seasonStart; i <= nstate; i++) if ((full[i] as number) < 0) return false;
      }
    }
    return true;
  };

  const objective = (par: Float64Array): number => {
    let j = 0;
    const a = flags.optAlpha ? (par[j++] as number) : fixedAlpha;
    const b = flags.optBeta ? (par[j++] as number) : fixedBeta;
    const g = flags.optGamma ? (par[j++] as number) : fixedGamma;
    const ph = flags.optPhi ? (par[j++] as number) : fixedPhi;
    if (!checkParams(a, b, g, ph, lower, upper, settings.bounds, m, flags)) return Number.POSITIVE_INFINITY;
    if (!unpackState(par)) return Number.POSITIVE_INFINITY;
    etsCalc(ws, full, a, b, g, ph, nmseUsed);
    let lik = ws.lik;
    // Avoid perfect fits, as R does.
    if (lik < -1e10) lik = -1e10;
    if (Number.isNaN(lik)) lik = Number.POSITIVE_INFINITY;
    switch (settings.criterion) {
      case "lik":
        return lik;
      case "mse":
        return ws.amse[0] as number;
      case "amse": {
        let s = 0;
        for (let i = 0; i < nmseUsed; i++) s += (ws.amse[i] as number) / nmseUsed;
        return s;
      }
      case "sigma":
        return ws.sse / n;
      case "mae":
        return ws.sae / n;
      default: {
        const never: never = settings.criterion;
        throw new Error(`unknown criterion ${String(never)}`);
      }
    }
  };

  const opt = nelderMead(objective, start, {
    maxit: settings.maxit,
    ...(settings.trace ? { trace: settings.trace } : {}),
  });
  if (!Number.isFinite(opt.value) && opt.evaluations <= 1) return undefined;
  const par = opt.x;
  let j = 0;
  alpha = flags.optAlpha ? (par[j++] as number) : fixedAlpha;
  beta = flags.optBeta ? (par[j++] as number) : fixedBeta;
  gamma = flags.optGamma ? (par[j++] as number) : fixedGamma;
  phi = flags.optPhi ? (par[j++] as number) : fixedPhi;
  for (let i = 0; i < nstate; i++) full[i] = par[nopt + i] as number;
  if (hasSeason) {
    let sum = 0;
    for (let i = seasonStart; i < nstate; i++) sum += full[i] as number;
    full[nstate] = (season === "M" ? m : 0) - sum;
  }

  const out: CalcOutput = {
    e: new Float64Array(n),
    fitted: new Float64Array(n),
    lastState: new Float64Array(full.length),
  };
  const finalWs = makeWorkspace(y, m, components);
  etsCalc(finalWs, full, alpha, beta, gamma, phi, Math.min(settings.nmse, 30), out);
  const lik = finalWs.lik;
  const npar = np + 1;
  const aic = lik + 2 * npar;
  const bic = lik + Math.log(n) * npar;
  const aicc = aic + (2 * npar * (npar + 1)) / (n - npar - 1);
  let amseMean = 0;
  const nm = Math.min(settings.nmse, 30);
  for (let i = 0; i < nm; i++) amseMean += finalWs.amse[i] as number;
  amseMean /= nm;

  const parRecord: Record<string, number> = { alpha };
  if (hasTrend) parRecord.beta = beta;
  if (hasSeason) parRecord.gamma = gamma;
  if (damped) parRecord.phi = phi;
  parRecord.l = full[0] as number;
  if (hasTrend) parRecord.b = full[1] as number;
  for (let i = seasonStart; i < nstate; i++) parRecord[`s${i - seasonStart}`] = full[i] as number;
  // R's residual variance divides by n minus the parameters it reports (smoothing + initial states).
  const nReported = 1 + (hasTrend ? 1 : 0) + (hasSeason ? 1 : 0) + (damped ? 1 : 0) + nstate;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (out.e[i] as number) ** 2;
  const sigma2 = sse / (n - nReported);

  return {
    components,
    label: etsLabel(components),
    m,
    alpha,
    beta,
    gamma,
    phi,
    par: parRecord,
    initState: Float64Array.from(full),
    lastState: out.lastState,
    residuals: out.e,
    fitted: out.fitted,
    loglik: -0.5 * lik,
    aic,
    aicc,
    bic,
    mse: finalWs.amse[0] as number,
    amse: amseMean,
    sigma2,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Model specification and automatic selection (R's ets).

export interface EtsSpec extends FixedParameters {
  /** "ZZZ" (default) or three letters; "d" after the trend letter asks for damping. */
  readonly model?: string | undefined;
  readonly damped?: boolean | undefined;
  readonly ic?: InformationCriterion | undefined;
  readonly criterion?: EtsCriterion | undefined;
  readonly additiveOnly?: boolean | undefined;
  readonly settings?: Partial<EtsSettings> | undefined;
}

function failure(
  code: ForecastError["code"],
  message: string,
  details?: Record<string, unknown>,
): FitResult<never> {
  return { ok: false, error: details ? { code, message, details } : { code, message } };
}

/**
 * Fits an ETS model, selecting the components marked Z by the information criterion.
 * Constant series with an automatic model give a flat model with zero variance (R: ses with alpha ≈ 1).
 */
export function fitEts(y: Float64Array, period: number, spec: EtsSpec = {}): FitResult<EtsResult> {
  const raw = spec.model ?? "ZZZ";
  const match = /^([AMZ])([NAMZ])(d?)([NAMZ])$/.exec(raw);
  if (!match) {
    return failure(
      "INVALID_OPTIONS",
      `ETS model "${raw}" must be three letters error/trend/season, e.g. "ZZZ" or "AAdN"`,
    );
  }
  const errorType = match[1] as "A" | "M" | "Z";
  const trendType = match[2] as "N" | "A" | "M" | "Z";
  let seasonType = match[4] as "N" | "A" | "M" | "Z";
  let damped: boolean | undefined = spec.damped;
  if (match[3] === "d") {
    if (damped === false) return failure("INVALID_OPTIONS", `model "${raw}" is damped but damped is false`);
    damped = true;
  }
  if (trendType === "M") {
    return failure(
      "NOT_APPLICABLE",
      "multiplicative trends are not supported (R's ets() excludes them by default)",
    );
  }
  const n = y.length;
  const m = period;
  const settings: EtsSettings = {
    ...DEFAULT_ETS_SETTINGS,
    ...spec.settings,
    ...(spec.criterion ? { criterion: spec.criterion } : {}),
  };
  const ic = spec.ic ?? "aicc";
  const additiveOnly = spec.additiveOnly ?? false;

  if (raw === "ZZZ" && damped === undefined && isConstant(y)) {
    return { ok: true, value: constantEts(y) };
  }

  if (m < 1 || n <= m) seasonType = "N";
  if (m === 1) {
    if (seasonType === "A" || seasonType === "M") {
      return failure("NOT_APPLICABLE", "a seasonal ETS model needs a period above 1");
    }
    seasonType = "N";
  }
  if (m > 24) {
    if (seasonType === "A" || seasonType === "M") {
      return failure("NOT_APPLICABLE", `seasonal ETS supports periods up to 24, not ${m}`);
    }
    seasonType = "N";
  }
  if (
    (errorType === "A" && seasonType === "M") ||
    (additiveOnly && (errorType === "M" || seasonType === "M"))
  ) {
    return failure(
      "NOT_APPLICABLE",
      `ETS(${errorType},${trendType},${seasonType}) is a restricted (unstable) combination`,
    );
  }
  let positive = true;
  for (let i = 0; i < n; i++) {
    if (!((y[i] as number) > 0)) {
      positive = false;
      break;
    }
  }
  if (!positive && errorType === "M") {
    return failure("NOT_APPLICABLE", "multiplicative errors need strictly positive data");
  }
  if (damped === true && trendType === "N") {
    return failure("INVALID_OPTIONS", "a damped model needs a trend");
  }
  let npars = 2;
  if (trendType === "A") npars += 2;
  if (seasonType === "A" || seasonType === "M") npars += m;
  if (damped) npars += 1;
  if (n <= npars + 4) {
    return failure("TOO_SHORT", `ETS needs more than ${npars + 4} observations for this model, got ${n}`, {
      minLength: npars + 5,
      length: n,
    });
  }

  const errors: ErrorComponent[] = errorType === "Z" ? ["A", "M"] : [errorType];
  const trends: TrendComponent[] = trendType === "Z" ? ["N", "A"] : [trendType];
  const seasons: SeasonComponent[] = seasonType === "Z" ? ["N", "A", "M"] : [seasonType];
  const dampings: boolean[] = damped === undefined ? [true, false] : [damped];
  const candidates: { model: string; ic: number | null }[] = [];
  const fits: { fit: EtsModelFit; ic: number }[] = [];
  for (const e of errors) {
    for (const t of trends) {
      for (const s of seasons) {
        for (const d of dampings) {
          if (t === "N" && d) continue;
          if (e === "A" && s === "M") continue;
          if (additiveOnly && (e === "M" || s === "M")) continue;
          if (!positive && e === "M") continue;
          const components: EtsComponents = { error: e, trend: t, damped: d, season: s };
          const fit = fitEtsModel(y, m, components, spec, settings);
          const value = fit
            ? ic === "aic"
              ? fit.aic
              : ic === "bic"
                ? fit.bic
                : fit.aicc
            : Number.POSITIVE_INFINITY;
          candidates.push({ model: modelCode(components), ic: Number.isFinite(value) ? value : null });
          if (fit && !Number.isNaN(value) && value < Number.POSITIVE_INFINITY) fits.push({ fit, ic: value });
        }
      }
    }
  }
  // Lowest criterion wins, earlier candidates on ties (R keeps the first strict minimum). A model whose
  // forecasts overflow is passed over; R would return it.
  fits.sort((a, b) => a.ic - b.ic);
  const best = fits.find((f) => forecastsFinite(f.fit))?.fit;
  if (!best) return failure("FIT_FAILED", "no ETS model could be fitted", { candidates });
  return { ok: true, value: { ...best, candidates } };
}

/** Guards selection against models whose forecasts overflow (R would return them). */
function forecastsFinite(fit: EtsModelFit): boolean {
  const { mean, variance } = etsForecast(etsCoreOf(fit), Math.max(2 * fit.m, 10));
  for (let i = 0; i < mean.length; i++) {
    if (!Number.isFinite(mean[i] as number) || !Number.isFinite(variance[i] as number)) return false;
  }
  return true;
}

function constantEts(y: Float64Array): EtsResult {
  const n = y.length;
  const value = y[n - 1] as number;
  const components: EtsComponents = { error: "A", trend: "N", damped: false, season: "N" };
  const residuals = new Float64Array(n);
  const fitted = new Float64Array(n).fill(value);
  for (let i = 0; i < n; i++) residuals[i] = (y[i] as number) - value;
  return {
    components,
    label: etsLabel(components),
    m: 1,
    alpha: 0.99999,
    beta: 0,
    gamma: 0,
    phi: 1,
    par: { alpha: 0.99999, l: y[0] as number },
    initState: Float64Array.of(y[0] as number),
    lastState: Float64Array.of(value),
    residuals,
    fitted,
    loglik: Number.NaN,
    aic: Number.NaN,
    aicc: Number.NaN,
    bic: Number.NaN,
    mse: 0,
    amse: 0,
    sigma2: 0,
    candidates: [],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Forecasting.

export interface EtsCore {
  readonly error: ErrorComponent;
  readonly trend: TrendComponent;
  readonly damped: boolean;
  readonly season: SeasonComponent;
  readonly m: number;
  readonly alpha: number;
  readonly beta: number;
  readonly gamma: number;
  readonly phi: number;
  readonly state: ArrayLike<number>;
  readonly sigma2: number;
}

export function etsCoreOf(fit: EtsModelFit): EtsCore {
  return {
    error: fit.components.error,
    trend: fit.components.trend,
    damped: fit.components.damped,
    season: fit.components.season,
    m: fit.m,
    alpha: fit.alpha,
    beta: fit.beta,
    gamma: fit.gamma,
    phi: fit.phi,
    state: fit.lastState,
    sigma2: fit.sigma2,
  };
}

export interface EtsForecastOptions {
  /**
   * forecast 8.x puts the seasonal gain of non-trended additive-season models one state too far in its
   * variance recursion, which widens its intervals at horizons that are multiples of m. Tests set this to
   * reproduce R; the default uses the textbook placement.
   */
  readonly rCompatibleVariance?: boolean;
}

/** Point forecasts and forecast variances for horizons 1..h (R's class 1, 2 and 3 formulas). */
export function etsForecast(
  core: EtsCore,
  h: number,
  options: EtsForecastOptions = {},
): { mean: Float64Array; variance: Float64Array } {
  const { error, season } = core;
  if (error === "M" && season === "M") return class3(core, h);
  const c1 = class1(core, h, options.rCompatibleVariance ?? false);
  if (error === "A") return { mean: c1.mean, variance: c1.variance };
  // Class 2: multiplicative error, additive components.
  const { mean, cj } = c1;
  const s2 = core.sigma2;
  const theta = new Float64Array(h);
  theta[0] = (mean[0] as number) ** 2;
  for (let j = 1; j < h; j++) {
    let s = 0;
    for (let k = 0; k < j; k++) s += (cj[k] as number) ** 2 * (theta[j - 1 - k] as number);
    theta[j] = (mean[j] as number) ** 2 + s2 * s;
  }
  const variance = new Float64Array(h);
  for (let j = 0; j < h; j++) variance[j] = (1 + s2) * (theta[j] as number) - (mean[j] as number) ** 2;
  return { mean, variance };
}

function class1(
  core: EtsCore,
  h: number,
  rCompatible: boolean,
): { mean: Float64Array; variance: Float64Array; cj: Float64Array } {
  const x = core.state;
  const p = x.length;
  const trend = core.trend === "A";
  const seasonal = core.season !== "N";
  const m = core.m;
  const phi = core.damped ? core.phi : 1;
  const H = new Float64Array(p);
  H[0] = 1;
  if (seasonal) H[p - 1] = 1;
  if (trend) H[1] = phi;
  const F = new Float64Array(p * p);
  F[0] = 1;
  if (trend) {
    F[1] = phi;
    F[p + 1] = phi;
  }
  if (seasonal) {
    F[(p - m) * p + (p - 1)] = 1;
    for (let i = 1; i < m; i++) F[(p - m + i) * p + (p - m + i - 1)] = 1;
  }
  const G = new Float64Array(p);
  G[0] = core.alpha;
  if (trend) G[1] = core.beta;
  if (seasonal) G[rCompatible ? 2 : p - m] = core.gamma;

  const mean = new Float64Array(h);
  const cj = new Float64Array(Math.max(h - 1, 0));
  let r = Float64Array.from(H);
  let next = new Float64Array(p);
  for (let i = 0; i < h; i++) {
    let mu = 0;
    for (let k = 0; k < p; k++) mu += (r[k] as number) * (x[k] as number);
    mean[i] = mu;
    if (i < h - 1) {
      let c = 0;
      for (let k = 0; k < p; k++) c += (r[k] as number) * (G[k] as number);
      cj[i] = c;
      next.fill(0);
      for (let a = 0; a < p; a++) {
        const ra = r[a] as number;
        if (ra === 0) continue;
        for (let b = 0; b < p; b++) next[b] = (next[b] as number) + ra * (F[a * p + b] as number);
      }
      const tmp = r;
      r = next;
      next = tmp;
    }
  }
  const variance = new Float64Array(h);
  let cum = 0;
  variance[0] = core.sigma2;
  for (let i = 1; i < h; i++) {
    cum += (cj[i - 1] as number) ** 2;
    variance[i] = core.sigma2 * (1 + cum);
  }
  return { mean, variance, cj };
}

/** Class 3: multiplicative error and multiplicative season (Hyndman et al. 2008, section 6.4). */
function class3(core: EtsCore, h: number): { mean: Float64Array; variance: Float64Array } {
  const x = core.state;
  const p = x.length;
  const m = core.m;
  const q = p - m;
  const s2 = core.sigma2;
  const trend = core.trend === "A";
  const H1 = matrix(1, q, new Float64Array(q).fill(1));
  const H2 = matrix(1, m);
  H2.data[m - 1] = 1;
  const F1 = trend ? matrix(2, 2, [1, 1, 0, core.damped ? core.phi : 1]) : matrix(1, 1, [1]);
  const G1 = trend
    ? matrix(2, 2, [core.alpha, core.alpha, core.beta, core.beta])
    : matrix(1, 1, [core.alpha]);
  const F2 = matrix(m, m);
  F2.data[m - 1] = 1;
  for (let i = 1; i < m; i++) F2.data[i * m + (i - 1)] = 1;
  const G2 = matrix(m, m);
  G2.data[m - 1] = core.gamma;
  let Mh = matrix(q, m);
  for (let i = 0; i < q; i++)
    for (let j = 0; j < m; j++) Mh.data[i * m + j] = (x[i] as number) * (x[q + j] as number);
  const d = q * m;
  let Vh = matrix(d, d);
  const H21 = kronecker(H2, H1);
  const F21 = kronecker(F2, F1);
  const G21 = kronecker(G2, G1);
  const K = add(kronecker(G2, F1), kronecker(F2, G1));
  const F21t = transpose(F21);
  const G21t = transpose(G21);
  const Kt = transpose(K);
  const H21t = transpose(H21);
  const F2t = transpose(F2);
  const G2t = transpose(G2);
  const mean = new Float64Array(h);
  const variance = new Float64Array(h);
  for (let i = 0; i < h; i++) {
    let mu = 0;
    for (let r = 0; r < q; r++) mu += Mh.data[r * m + (m - 1)] as number;
    mean[i] = mu;
    const hv = (multiply(multiply(H21, Vh), H21t).data[0] as number) * (1 + s2);
    variance[i] = hv + s2 * mu * mu;
    // vec(Mh), column-major as R's c(Mh).
    const vec = matrix(d, 1);
    for (let c = 0; c < m; c++)
      for (let r = 0; r < q; r++) vec.data[c * q + r] = Mh.data[r * m + c] as number;
    const vvt = multiply(vec, transpose(vec));
    const term1 = multiply(multiply(F21, Vh), F21t);
    const inner = add(
      add(multiply(multiply(F21, Vh), G21t), multiply(multiply(G21, Vh), F21t)),
      add(
        multiply(multiply(K, add(Vh, vvt)), Kt),
        scale(multiply(multiply(G21, add(scale(Vh, 3), scale(vvt, 2))), G21t), s2),
      ),
    );
    Vh = add(term1, inner, s2);
    Mh = add(multiply(multiply(F1, Mh), F2t), scale(multiply(multiply(G1, Mh), G2t), s2));
  }
  return { mean, variance };
}
