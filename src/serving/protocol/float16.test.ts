import { describe, expect, it } from "vitest";
import { float16Bits, float16FromBits, fromFloat16Bits, roundToFloat16, toFloat16Bits } from "./float16.js";

describe("float16", () => {
  it("knows the landmark values", () => {
    expect(float16Bits(1)).toBe(0x3c00);
    expect(float16Bits(-2)).toBe(0xc000);
    expect(float16Bits(65504)).toBe(0x7bff);
    expect(float16Bits(2 ** -14)).toBe(0x0400);
    expect(float16Bits(2 ** -24)).toBe(0x0001);
    expect(float16Bits(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(float16Bits(-0)).toBe(0x8000);
    expect(float16Bits(Number.NaN)).toBe(0x7e00);
  });

  it("rounds to nearest, ties to even, and overflows to infinity at 65520", () => {
    expect(roundToFloat16(1 + 2 ** -11)).toBe(1); // tie between 1 and 1+2^-10: even mantissa wins
    expect(roundToFloat16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundToFloat16(65519)).toBe(65504);
    expect(roundToFloat16(65520)).toBe(Number.POSITIVE_INFINITY);
    expect(roundToFloat16(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal
    expect(roundToFloat16(3 * 2 ** -26)).toBe(2 ** -24);
  });

  it("round-trips every finite bit pattern", () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const exponent = (bits >> 10) & 0x1f;
      if (exponent === 0x1f && (bits & 0x3ff) !== 0) continue; // NaN payloads collapse to one NaN
      const value = float16FromBits(bits);
      expect(float16Bits(value)).toBe(bits);
      expect(roundToFloat16(value)).toBe(value);
    }
  });

  it("converts arrays both ways", () => {
    const values = new Float32Array([0.5, -1, 65504]);
    expect(Array.from(fromFloat16Bits(toFloat16Bits(values)))).toEqual([0.5, -1, 65504]);
  });
});
