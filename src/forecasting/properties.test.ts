import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fitModel, restoreModel } from "./model.js";
import { METHOD_NAMES, type MethodName } from "./types.js";

const LEVELS = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99];

/** Finite, non-negative series long enough for every method at the given period. */
const seriesArb = fc.oneof(
  // Intermittent counts, mostly zeros.
  fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 40 })), {
    minLength: 30,
    maxLength: 60,
  }),
  // Positive levels with noise.
  fc.array(fc.double({ min: 0.5, max: 1e4, noNaN: true }), { minLength: 30, maxLength: 60 }),
  // Anything non-negative, including runs of equal values.
  fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 30, maxLength: 60 }),
);

function expectedToFit(method: MethodName, y: number[], period: number): boolean {
  if (method === "hw-additive") return period > 1;
  if (method === "hw-multiplicative") return period > 1 && y.every((v) => v > 0);
  return true;
}

describe("properties", () => {
  it.each(METHOD_NAMES)("%s: finite forecasts and quantiles monotone in level", (method) => {
    const runs = method === "ets" || method.startsWith("hw") ? 12 : 30;
    fc.assert(
      fc.property(seriesArb, fc.constantFrom(1, 4, 12), fc.integer({ min: 1, max: 30 }), (y, period, h) => {
        const r = fitModel(method, y, { period });
        expect(r.ok, r.ok ? "" : `${r.error.code}: ${r.error.message}`).toBe(
          expectedToFit(method, y, period),
        );
        if (!r.ok) return;
        const forecast = r.value.forecast(h, { quantiles: LEVELS });
        for (const v of forecast.mean) expect(Number.isFinite(v)).toBe(true);
        for (let i = 0; i < h; i++) {
          let previous = Number.NEGATIVE_INFINITY;
          for (const level of LEVELS) {
            const q = forecast.quantiles.get(level)?.[i] as number;
            expect(Number.isFinite(q)).toBe(true);
            expect(q).toBeGreaterThanOrEqual(previous);
            previous = q;
          }
        }
      }),
      { numRuns: runs, seed: 20_240_601 },
    );
  });

  it("count distributions keep quantiles monotone and restore losslessly", () => {
    fc.assert(
      fc.property(
        seriesArb,
        fc.constantFrom("negbin", "poisson", "empirical") as fc.Arbitrary<"negbin" | "poisson" | "empirical">,
        (y, distribution) => {
          const r = fitModel("ses", y, { period: 1, distribution });
          if (!r.ok) return;
          const back = restoreModel(JSON.parse(JSON.stringify(r.value.toState())));
          expect(back.ok).toBe(true);
          if (!back.ok) return;
          const a = r.value.forecast(6, { quantiles: LEVELS });
          const b = back.value.forecast(6, { quantiles: LEVELS });
          expect(Array.from(b.mean)).toEqual(Array.from(a.mean));
          for (let i = 0; i < 6; i++) {
            for (let k = 1; k < LEVELS.length; k++) {
              const lo = a.quantiles.get(LEVELS[k - 1] as number)?.[i] as number;
              const hi = a.quantiles.get(LEVELS[k] as number)?.[i] as number;
              expect(hi).toBeGreaterThanOrEqual(lo);
            }
          }
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });

  it("never throws on arbitrary numeric input: bad data is an error value", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double(), fc.integer()), { maxLength: 40 }),
        fc.constantFrom(...METHOD_NAMES),
        fc.integer({ min: -2, max: 30 }),
        (y, method, period) => {
          const r = fitModel(method, y, { period });
          if (r.ok) r.value.forecast(3, { quantiles: [0.1, 0.9] });
        },
      ),
      { numRuns: 200, seed: 11 },
    );
  });
});
