/**
 * Derivative-free optimisers.
 *
 * `nelderMead` follows the Nelder–Mead variant in R's optim() (Nash's nmmin): the same initial simplex,
 * reflection/extension/contraction/shrink rules, convergence test and evaluation budget. ETS estimation in
 * R's forecast package calls exactly that routine, so keeping its rules (not a "better" Nelder–Mead) is what
 * makes parameter estimates agree with R on the same objective.
 */

export type Objective = (x: Float64Array) => number;

export interface NelderMeadOptions {
  /** Stop when the best value falls to this (R: abstol, default -Infinity). */
  readonly abstol?: number;
  /** Relative convergence tolerance on the simplex's value spread (R: reltol, default sqrt(machine eps)). */
  readonly reltol?: number;
  /** Reflection, contraction and expansion factors (R: 1, 0.5, 2). */
  readonly alpha?: number;
  readonly beta?: number;
  readonly gamma?: number;
  /** Maximum number of objective evaluations (R's maxit counts evaluations; default 500). */
  readonly maxit?: number;
  /** Called once per iteration with the step taken and the simplex's worst and best values (R's trace). */
  readonly trace?: (action: string, evaluations: number, high: number, low: number) => void;
}

export interface NelderMeadResult {
  readonly x: Float64Array;
  readonly value: number;
  readonly evaluations: number;
  /** False when the budget ran out, the simplex could not shrink, or the start was not finite. */
  readonly converged: boolean;
}

/** Value R's nmmin substitutes for non-finite objective values. */
const BIG = 1.0e35;

/**
 * Minimise `fn` from `start`. The objective receives a buffer that is reused between calls: read it, do not
 * keep it.
 *
 * @example
 * const r = nelderMead((x) => (x[0]! - 1) ** 2 + (x[1]! + 2) ** 2, [0, 0], { maxit: 2000 });
 */
export function nelderMead(
  fn: Objective,
  start: ArrayLike<number>,
  options: NelderMeadOptions = {},
): NelderMeadResult {
  const n = start.length;
  const maxit = options.maxit ?? 500;
  const abstol = options.abstol ?? Number.NEGATIVE_INFINITY;
  const reltol = options.reltol ?? 1.4901161193847656e-8;
  const alpha = options.alpha ?? 1;
  const bet = options.beta ?? 0.5;
  const gamm = options.gamma ?? 2;
  const bvec = Float64Array.from(start);

  if (maxit <= 0 || n === 0) {
    return { x: bvec, value: fn(bvec), evaluations: 0, converged: true };
  }

  // Simplex in one flat array: row i < n holds coordinate i, row n the function value; columns 0..n are
  // vertices and column n + 1 the centroid (the layout nmmin uses, so the arithmetic order matches).
  const cols = n + 2;
  const P = new Float64Array((n + 1) * cols);
  const fRow = n * cols;
  const C = n + 1;

  let f = fn(bvec);
  if (!Number.isFinite(f)) {
    return { x: bvec, value: Number.POSITIVE_INFINITY, evaluations: 1, converged: false };
  }
  let funcount = 1;
  const convtol = reltol * (Math.abs(f) + reltol);
  P[fRow] = f;
  for (let i = 0; i < n; i++) P[i * cols] = bvec[i] as number;

  let L = 0;
  let size = 0;
  let step = 0;
  for (let i = 0; i < n; i++) {
    const s = 0.1 * Math.abs(bvec[i] as number);
    if (s > step) step = s;
  }
  if (step === 0) step = 0.1;
  for (let j = 1; j <= n; j++) {
    for (let i = 0; i < n; i++) P[i * cols + j] = bvec[i] as number;
    let trystep = step;
    const k = (j - 1) * cols + j;
    while (P[k] === bvec[j - 1]) {
      P[k] = (bvec[j - 1] as number) + trystep;
      trystep *= 10;
    }
    size += trystep;
  }
  let oldsize = size;
  let calcvert = true;
  let failed = false;
  let action = "BUILD";
  const trace = options.trace;

  do {
    if (calcvert) {
      for (let j = 0; j <= n; j++) {
        if (j !== L) {
          for (let i = 0; i < n; i++) bvec[i] = P[i * cols + j] as number;
          f = fn(bvec);
          if (!Number.isFinite(f)) f = BIG;
          funcount++;
          P[fRow + j] = f;
        }
      }
      calcvert = false;
    }

    let VL = P[fRow + L] as number;
    let VH = VL;
    let H = L;
    for (let j = 0; j <= n; j++) {
      if (j !== L) {
        const fj = P[fRow + j] as number;
        if (fj < VL) {
          L = j;
          VL = fj;
        }
        if (fj > VH) {
          H = j;
          VH = fj;
        }
      }
    }
    if (VH <= VL + convtol || VL <= abstol) break;
    trace?.(action, funcount, VH, VL);

    for (let i = 0; i < n; i++) {
      const row = i * cols;
      let temp = -(P[row + H] as number);
      for (let j = 0; j <= n; j++) temp += P[row + j] as number;
      P[row + C] = temp / n;
    }
    for (let i = 0; i < n; i++) {
      const row = i * cols;
      bvec[i] = (1 + alpha) * (P[row + C] as number) - alpha * (P[row + H] as number);
    }
    f = fn(bvec);
    if (!Number.isFinite(f)) f = BIG;
    funcount++;
    action = "REFLECTION";
    const VR = f;
    if (VR < VL) {
      P[fRow + C] = f;
      for (let i = 0; i < n; i++) {
        const row = i * cols;
        const t = gamm * (bvec[i] as number) + (1 - gamm) * (P[row + C] as number);
        P[row + C] = bvec[i] as number;
        bvec[i] = t;
      }
      f = fn(bvec);
      if (!Number.isFinite(f)) f = BIG;
      funcount++;
      if (f < VR) {
        for (let i = 0; i < n; i++) P[i * cols + H] = bvec[i] as number;
        P[fRow + H] = f;
        action = "EXTENSION";
      } else {
        for (let i = 0; i < n; i++) P[i * cols + H] = P[i * cols + C] as number;
        P[fRow + H] = VR;
      }
    } else {
      action = "HI-REDUCTION";
      if (VR < VH) {
        for (let i = 0; i < n; i++) P[i * cols + H] = bvec[i] as number;
        P[fRow + H] = VR;
        action = "LO-REDUCTION";
      }
      for (let i = 0; i < n; i++) {
        const row = i * cols;
        bvec[i] = (1 - bet) * (P[row + H] as number) + bet * (P[row + C] as number);
      }
      f = fn(bvec);
      if (!Number.isFinite(f)) f = BIG;
      funcount++;
      if (f < (P[fRow + H] as number)) {
        for (let i = 0; i < n; i++) P[i * cols + H] = bvec[i] as number;
        P[fRow + H] = f;
      } else if (VR >= VH) {
        action = "SHRINK";
        calcvert = true;
        size = 0;
        for (let j = 0; j <= n; j++) {
          if (j !== L) {
            for (let i = 0; i < n; i++) {
              const row = i * cols;
              const base = P[row + L] as number;
              P[row + j] = bet * ((P[row + j] as number) - base) + base;
              size += Math.abs((P[row + j] as number) - base);
            }
          }
        }
        if (size < oldsize) {
          oldsize = size;
        } else {
          failed = true;
          break;
        }
      }
    }
  } while (funcount <= maxit);

  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = P[i * cols + L] as number;
  return { x, value: P[fRow + L] as number, evaluations: funcount, converged: !failed && funcount <= maxit };
}

export interface ScalarMinimum {
  readonly x: number;
  readonly value: number;
}

/**
 * Brent's method for a one-dimensional minimum on [lower, upper] (the algorithm of R's optimize()).
 *
 * @example
 * const m = minimizeScalar((x) => (x - 2) ** 2, 0, 5); // m.x ≈ 2
 */
export function minimizeScalar(
  fn: (x: number) => number,
  lower: number,
  upper: number,
  tol = 1.220703e-4,
): ScalarMinimum {
  const c = (3 - Math.sqrt(5)) * 0.5;
  const eps = Math.sqrt(2.220446049250313e-16);
  let a = lower;
  let b = upper;
  let v = a + c * (b - a);
  let w = v;
  let x = v;
  let d = 0;
  let e = 0;
  let fx = fn(x);
  let fv = fx;
  let fw = fx;
  const tol3 = tol / 3;
  for (;;) {
    const xm = (a + b) * 0.5;
    const tol1 = eps * Math.abs(x) + tol3;
    const t2 = tol1 * 2;
    if (Math.abs(x - xm) <= t2 - (b - a) * 0.5) break;
    let p = 0;
    let q = 0;
    let r = 0;
    if (Math.abs(e) > tol1) {
      r = (x - w) * (fx - fv);
      q = (x - v) * (fx - fw);
      p = (x - v) * q - (x - w) * r;
      q = (q - r) * 2;
      if (q > 0) p = -p;
      else q = -q;
      r = e;
      e = d;
    }
    if (Math.abs(p) >= Math.abs(q * 0.5 * r) || p <= q * (a - x) || p >= q * (b - x)) {
      e = x < xm ? b - x : a - x;
      d = c * e;
    } else {
      d = p / q;
      const u = x + d;
      if (u - a < t2 || b - u < t2) d = x < xm ? tol1 : -tol1;
    }
    const u = Math.abs(d) >= tol1 ? x + d : d > 0 ? x + tol1 : x - tol1;
    const fu = fn(u);
    if (fu <= fx) {
      if (u < x) b = x;
      else a = x;
      v = w;
      w = x;
      x = u;
      fv = fw;
      fw = fx;
      fx = fu;
    } else {
      if (u < x) a = u;
      else b = u;
      if (fu <= fw || w === x) {
        v = w;
        fv = fw;
        w = u;
        fw = fu;
      } else if (fu <= fv || v === x || v === w) {
        v = u;
        fv = fu;
      }
    }
  }
  return { x, value: fx };
}
