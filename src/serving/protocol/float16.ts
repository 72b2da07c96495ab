/**
 * IEEE 754 binary16 helpers. Node 20 has no Math.f16round or Float16Array, so FP16 tensors are held as a
 * Float32Array of values already rounded to binary16 (every binary16 value is exact in binary32), and the
 * runtime adapter converts to raw bits only where a backend (onnxruntime's "float16") wants them.
 */

const MIN_NORMAL = 2 ** -14;
const SUBNORMAL_QUANTUM = 2 ** -24;
/** Halfway between the largest finite binary16 (65504) and 2^16: from here on, round-to-nearest gives ∞. */
const OVERFLOW_THRESHOLD = 65520;
export const FLOAT16_MAX = 65504;

function roundHalfEven(y: number): number {
  const floor = Math.floor(y);
  const diff = y - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The binade exponent of a positive finite number; Math.log2 can be off by one near powers of two. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  return e;
}

/**
 * Rounds a double to the nearest binary16 value (ties to even), straight from the double so there is no
 * double rounding through binary32. Values past the binary16 range become ±Infinity, as the hardware does.
 */
export function roundToFloat16(x: number): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let r: number;
  if (a >= OVERFLOW_THRESHOLD) r = Number.POSITIVE_INFINITY;
  else if (a < MIN_NORMAL) r = roundHalfEven(a / SUBNORMAL_QUANTUM) * SUBNORMAL_QUANTUM;
  else {
    const quantum = 2 ** (exponentOf(a) - 10);
    r = roundHalfEven(a / quantum) * quantum;
  }
  return x < 0 ? -r : r;
}

/** The binary16 bit pattern of `x` (rounded first). NaN becomes the canonical quiet NaN 0x7e00. */
export function float16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const r = roundToFloat16(x);
  const sign = r < 0 || Object.is(r, -0) ? 0x8000 : 0;
  const a = Math.abs(r);
  if (a === Number.POSITIVE_INFINITY) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < MIN_NORMAL) return sign | (a / SUBNORMAL_QUANTUM);
  const e = exponentOf(a);
  return sign | ((e + 15) << 10) | (a / 2 ** (e - 10) - 1024);
}

/** The number a binary16 bit pattern denotes. */
export function float16FromBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * SUBNORMAL_QUANTUM;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** Converts an FP16 tensor's values to raw bits, e.g. for onnxruntime's float16 tensors (Uint16Array). */
export function toFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float16Bits(values[i] as number);
  return out;
}

/** Converts raw binary16 bits (e.g. an onnxruntime float16 output) to the Float32Array FP16 tensors use. */
export function fromFloat16Bits(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16FromBits(bits[i] as number);
  return out;
}
