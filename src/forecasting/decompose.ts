/** Classical decomposition and the small time-series statistics the methods share (as R's stats package). */

export type DecompositionType = "additive" | "multiplicative";

export interface Decomposition {
  /** Seasonal component for each observation (the figure repeated from the first observation on). */
  readonly seasonal: Float64Array;
  /** One seasonal index per position in the cycle, aligned to the first observation. */
  readonly figure: Float64Array;
}

/**
 * Classical decomposition (R's stats::decompose): centred moving-average trend, seasonal figure averaged over
 * cycles and normalised to sum 0 (additive) or average 1 (multiplicative). Needs at least two full cycles.
 */
export function decompose(y: Float64Array, m: number, type: DecompositionType): Decomposition {
  const n = y.length;
  // Even periods use the 2×m moving average; its weights are the filter R builds.
  const nf = m % 2 === 0 ? m + 1 : m;
  const filter = new Float64Array(nf);
  if (m % 2 === 0) {
    filter[0] = 0.5 / m;
    filter[nf - 1] = 0.5 / m;
    for (let j = 1; j < nf - 1; j++) filter[j] = 1 / m;
  } else {
    for (let j = 0; j < nf; j++) filter[j] = 1 / m;
  }
  const shift = Math.floor(nf / 2);
  const detrended = new Float64Array(n).fill(Number.NaN);
  for (let i = 0; i < n; i++) {
    if (i + shift - (nf - 1) < 0 || i + shift >= n) continue;
    let z = 0;
    for (let j = 0; j < nf; j++) z += (filter[j] as number) * (y[i + shift - j] as number);
    detrended[i] = type === "additive" ? (y[i] as number) - z : (y[i] as number) / z;
  }
  const figure = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let sum = 0;
    let count = 0;
    for (let t = i; t < n; t += m) {
      const v = detrended[t] as number;
      if (!Number.isNaN(v)) {
        sum += v;
        count++;
      }
    }
    figure[i] = count > 0 ? sum / count : Number.NaN;
  }
  let avg = 0;
  for (let i = 0; i < m; i++) avg += figure[i] as number;
  avg /= m;
  for (let i = 0; i < m; i++)
    figure[i] = type === "additive" ? (figure[i] as number) - avg : (figure[i] as number) / avg;
  const seasonal = new Float64Array(n);
  for (let t = 0; t < n; t++) seasonal[t] = figure[t % m] as number;
  return { seasonal, figure };
}

/** Sample autocorrelations at lags 1..maxLag (demeaned, denominator n, as R's acf). */
export function acf(y: Float64Array, maxLag: number): Float64Array {
  const n = y.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i] as number;
  mean /= n;
  let c0 = 0;
  for (let i = 0; i < n; i++) c0 += ((y[i] as number) - mean) ** 2;
  const out = new Float64Array(maxLag);
  for (let k = 1; k <= maxLag; k++) {
    let s = 0;
    for (let i = 0; i + k < n; i++) s += ((y[i] as number) - mean) * ((y[i + k] as number) - mean);
    out[k - 1] = c0 > 0 ? s / c0 : 0;
  }
  return out;
}

/** True when all values equal the first within R's all.equal tolerance (forecast::is.constant). */
export function isConstant(y: Float64Array): boolean {
  const n = y.length;
  if (n === 0) return true;
  const first = y[0] as number;
  let absMean = 0;
  let diff = 0;
  for (let i = 0; i < n; i++) {
    absMean += Math.abs(y[i] as number);
    diff += Math.abs((y[i] as number) - first);
  }
  absMean /= n;
  diff /= n;
  const tolerance = 1.5e-8;
  return absMean > tolerance ? diff / absMean <= tolerance : diff <= tolerance;
}

/**
 * The seasonality test of forecast::thetaf: the lag-m autocorrelation against its standard error under
 * the Bartlett approximation, one-sided at 90 % (|r_m| / se > qnorm(0.95)).
 */
export function seasonalityTest(y: Float64Array, m: number): boolean {
  const n = y.length;
  if (m <= 1 || n <= 2 * m || isConstant(y)) return false;
  const r = acf(y, m);
  let sum = 0;
  for (let k = 0; k < m - 1; k++) sum += (r[k] as number) ** 2;
  const stat = Math.sqrt((1 + 2 * sum) / n);
  return Math.abs(r[m - 1] as number) / stat > 1.6448536269514722;
}
