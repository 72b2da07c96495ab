import { SkalaError } from "../../core/index.js";

/** Bad arguments are validation errors with a stable code and the offending argument as the path. */
export function invalid(path: string, message: string): SkalaError {
  return new SkalaError("VALIDATION_FAILED", `${path}: ${message}`, { issues: [{ path, message }] });
}

export function requireProbability(path: string, value: number, open = true): void {
  const ok = open ? value > 0 && value < 1 : value >= 0 && value <= 1;
  if (!ok) throw invalid(path, `must lie in ${open ? "(0, 1)" : "[0, 1]"}, got ${value}`);
}

export function requirePositiveInteger(path: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw invalid(path, `must be a positive integer, got ${value}`);
}

export function requireSameLength(path: string, a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) throw invalid(path, `lengths differ (${a.length} and ${b.length})`);
}

export function requireFinite(path: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++)
    if (!Number.isFinite(values[i]))
      throw invalid(`${path}/${i}`, `must be a finite number, got ${values[i]}`);
}

/** The finite values, sorted ascending, as a new Float64Array (no sort when they already are). */
export function sortedFinite(values: ArrayLike<number | null | undefined>): Float64Array {
  let n = 0;
  let ordered = true;
  let previous = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "number" && Number.isFinite(v)) {
      n++;
      if (v < previous) ordered = false;
      previous = v;
    }
  }
  const out = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "number" && Number.isFinite(v)) out[j++] = v;
  }
  return ordered ? out : out.sort();
}

/** Midranks (1-based, ties averaged) of the values, and the tie-group sizes. */
export function midranks(values: ArrayLike<number>): { ranks: Float64Array; ties: number[] } {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (values[a] as number) - (values[b] as number),
  );
  const ranks = new Float64Array(n);
  const ties: number[] = [];
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && values[order[j] as number] === values[order[i] as number]) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k] as number] = rank;
    if (j - i > 1) ties.push(j - i);
    i = j;
  }
  return { ranks, ties };
}
