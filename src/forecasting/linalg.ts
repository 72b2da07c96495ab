/** Small dense linear algebra: least squares for initial states and the matrices of ETS forecast variances. */

/**
 * Least squares by Householder QR (as R's lm/lsfit), for a column-major design `x` with `n` rows and `p`
 * columns. Returns the p coefficients, or undefined when the design is rank deficient.
 */
export function leastSquares(
  x: Float64Array,
  n: number,
  p: number,
  y: ArrayLike<number>,
): Float64Array | undefined {
  const a = Float64Array.from(x);
  const b = Float64Array.from({ length: n }, (_, i) => y[i] as number);
  const diag = new Float64Array(p);
  for (let k = 0; k < p; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm = Math.hypot(norm, a[k * n + i] as number);
    if (norm === 0) return undefined;
    const akk = a[k * n + k] as number;
    const alpha = akk > 0 ? -norm : norm;
    // v = a_k - alpha e_k, stored in place below the diagonal.
    a[k * n + k] = akk - alpha;
    let vnorm2 = 0;
    for (let i = k; i < n; i++) vnorm2 += (a[k * n + i] as number) ** 2;
    diag[k] = alpha;
    if (vnorm2 === 0) continue;
    for (let j = k + 1; j < p; j++) {
      let s = 0;
      for (let i = k; i < n; i++) s += (a[k * n + i] as number) * (a[j * n + i] as number);
      const f = (2 * s) / vnorm2;
      for (let i = k; i < n; i++) a[j * n + i] = (a[j * n + i] as number) - f * (a[k * n + i] as number);
    }
    let s = 0;
    for (let i = k; i < n; i++) s += (a[k * n + i] as number) * (b[i] as number);
    const f = (2 * s) / vnorm2;
    for (let i = k; i < n; i++) b[i] = (b[i] as number) - f * (a[k * n + i] as number);
  }
  const coef = new Float64Array(p);
  const scale = Math.max(...Array.from(diag, Math.abs));
  for (let k = p - 1; k >= 0; k--) {
    const d = diag[k] as number;
    if (Math.abs(d) <= 1e-7 * scale) return undefined;
    let s = b[k] as number;
    for (let j = k + 1; j < p; j++) s -= (a[j * n + k] as number) * (coef[j] as number);
    coef[k] = s / d;
  }
  return coef;
}

/** Intercept and slope of y on x (ordinary least squares). */
export function linearFit(x: ArrayLike<number>, y: ArrayLike<number>, n: number): [number, number] {
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    sxy += dx * ((y[i] as number) - my);
    sxx += dx * dx;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return [my - slope * mx, slope];
}

/** Row-major dense matrix. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  return { rows, cols, data: data ? Float64Array.from(data) : new Float64Array(rows * cols) };
}

export function identity(n: number): Matrix {
  const m = matrix(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  const out = matrix(a.rows, b.cols);
  const { data: ad } = a;
  const { data: bd } = b;
  const od = out.data;
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const aik = ad[i * a.cols + k] as number;
      if (aik === 0) continue;
      for (let j = 0; j < b.cols; j++)
        od[i * b.cols + j] = (od[i * b.cols + j] as number) + aik * (bd[k * b.cols + j] as number);
    }
  }
  return out;
}

export function transpose(a: Matrix): Matrix {
  const out = matrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j] as number;
  return out;
}

export function add(a: Matrix, b: Matrix, scaleB = 1): Matrix {
  const out = matrix(a.rows, a.cols, a.data);
  for (let i = 0; i < out.data.length; i++)
    out.data[i] = (out.data[i] as number) + scaleB * (b.data[i] as number);
  return out;
}

export function scale(a: Matrix, s: number): Matrix {
  const out = matrix(a.rows, a.cols, a.data);
  for (let i = 0; i < out.data.length; i++) out.data[i] = (out.data[i] as number) * s;
  return out;
}

/** Kronecker product a ⊗ b. */
export function kronecker(a: Matrix, b: Matrix): Matrix {
  const out = matrix(a.rows * b.rows, a.cols * b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) {
      const aij = a.data[i * a.cols + j] as number;
      if (aij === 0) continue;
      for (let k = 0; k < b.rows; k++) {
        for (let l = 0; l < b.cols; l++) {
          out.data[(i * b.rows + k) * out.cols + j * b.cols + l] = aij * (b.data[k * b.cols + l] as number);
        }
      }
    }
  }
  return out;
}
