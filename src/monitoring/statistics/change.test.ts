import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRng, cusum, errorScale, pageHinkley, scaleErrors } from "./index.js";

const rng = createRng(31);
const noise = (n: number, shiftAt = n, shift = 0): Float64Array =>
  Float64Array.from({ length: n }, (_, t) => rng.normal() + (t >= shiftAt ? shift : 0));

/** Mean number of observations to the first alarm (the zero-state ARL), the series shifted from the start. */
function arl(
  detect: (z: Float64Array) => number | null,
  shift: number,
  runs: number,
  length: number,
): number {
  let total = 0;
  for (let r = 0; r < runs; r++) {
    const alarm = detect(noise(length, 0, shift));
    total += (alarm ?? length) + 1;
  }
  return total / runs;
}

const SERIES = 2_000;
const LENGTH = 24;
const SHIFT_AT = 12;

/** Over many seeded series: the false-alarm share and, per shift, the share detected within 2 periods. */
function measure(detect: (z: Float64Array) => number | null, shift: number) {
  let falseAlarms = 0;
  let within2 = 0;
  const delays: number[] = [];
  for (let s = 0; s < SERIES; s++) {
    if (detect(noise(LENGTH)) !== null) falseAlarms++;
    const alarm = detect(noise(LENGTH, SHIFT_AT, shift));
    if (alarm !== null && alarm >= SHIFT_AT) {
      delays.push(alarm - SHIFT_AT);
      if (alarm - SHIFT_AT <= 1) within2++;
    } else if (alarm === null) delays.push(Number.POSITIVE_INFINITY);
  }
  delays.sort((a, b) => a - b);
  return {
    falseAlarmRate: falseAlarms / SERIES,
    detectedWithin2: within2 / SERIES,
    medianDelay: delays[Math.floor(delays.length / 2)] as number,
  };
}

describe("cusum", () => {
  it("computes the tabular statistics and restarts after an alarm", () => {
    const r = cusum([1, 2, 3, 0, -3, -3, Number.NaN, -1], { k: 0.5, h: 4 });
    expect(Array.from(r.upper)).toEqual([0.5, 2, 4.5, 0, 0, 0, 0, 0]);
    expect(Array.from(r.lower)).toEqual([0, 0, 0, 0, 2.5, 5, 0, 0.5]);
    expect(r.alarms).toEqual([
      { index: 2, direction: "up" },
      { index: 5, direction: "down" },
    ]);
    expect(r.firstAlarm).toBe(2);
  });

  it("has the average run lengths of Montgomery's Table 9.3 (k = 1/2, h = 4)", () => {
    const detect = (z: Float64Array) => cusum(z).firstAlarm;
    // In control 168; shifts of 1, 2, 3 sd: 8.38, 3.34, 2.19 (Montgomery, Introduction to SQC, Table 9.3).
    const inControl = arl(detect, 0, 1_000, 2_500);
    expect(inControl).toBeGreaterThan(168 * 0.9);
    expect(inControl).toBeLessThan(168 * 1.1);
    expect(arl(detect, 1, 3_000, 400)).toBeCloseTo(8.38, 0);
    expect(arl(detect, 2, 3_000, 400)).toBeCloseTo(3.34, 1);
    expect(arl(detect, 3, 3_000, 400)).toBeCloseTo(2.19, 1);
  });

  it("rarely alarms on stationary noise and finds level shifts (measured over 2,000 seeded series of 24 periods)", () => {
    const detect = (z: Float64Array) => cusum(z).firstAlarm;
    const oneSd = measure(detect, 1);
    const twoSd = measure(detect, 2);
    const threeSd = measure(detect, 3);
    // Measured: 11 % of 24-period stationary series alarm somewhere (ARL₀ = 168 periods).
    expect(oneSd.falseAlarmRate).toBeLessThan(0.15);
    // Measured delays (alarm index − shift index): median 6 at 1 sd, 2 at 2 sd, 1 at 3 sd; alarm by the 2nd
    // shifted period (delay ≤ 1): 7.5 %, 33 %, 78 %; by the 3rd (delay ≤ 2): 16 %, 67 %, 94 %. A 1–2 sd shift
    // cannot be caught within 2 periods at this false-alarm rate.
    expect(oneSd.medianDelay).toBeLessThanOrEqual(7);
    expect(twoSd.medianDelay).toBeLessThanOrEqual(2);
    expect(threeSd.medianDelay).toBeLessThanOrEqual(1);
    expect(threeSd.detectedWithin2).toBeGreaterThan(0.7);
    const strict = measure((z) => cusum(z, { h: 5 }).firstAlarm, 2);
    expect(strict.falseAlarmRate).toBeLessThan(0.05); // measured 3.9 %
  });

  it("refuses a negative k and a non-positive h", () => {
    const code = expect.objectContaining({ code: "VALIDATION_FAILED" });
    expect(() => cusum([1], { k: -1 })).toThrow(code);
    expect(() => cusum([1], { h: 0 })).toThrow(code);
  });
});

describe("pageHinkley", () => {
  it("equals CUSUM with k = δ when the in-control mean is given", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { maxLength: 60 }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.double({ min: 0.5, max: 6, noNaN: true }),
        (z, delta, lambda) => {
          const ph = pageHinkley(z, { delta, lambda, target: 0 });
          const cs = cusum(z, { k: delta, h: lambda });
          expect(ph.alarms).toEqual(cs.alarms);
          for (let t = 0; t < z.length; t++) {
            expect(ph.upper[t]).toBeCloseTo(cs.upper[t] as number, 9);
            expect(ph.lower[t]).toBeCloseTo(cs.lower[t] as number, 9);
          }
        },
      ),
      { numRuns: 200, seed: 17 },
    );
  });

  it("with the running mean, rarely alarms on stationary noise and finds a 2-sd shift", () => {
    const detect = (z: Float64Array) => pageHinkley(z).firstAlarm;
    const twoSd = measure(detect, 2);
    const threeSd = measure(detect, 3);
    // Measured: 7.7 % false alarms per 24-period series; median delay 2 at 2 sd, 1 at 3 sd.
    expect(twoSd.falseAlarmRate).toBeLessThan(0.1);
    expect(twoSd.medianDelay).toBeLessThanOrEqual(2);
    expect(threeSd.medianDelay).toBeLessThanOrEqual(1);
  });

  it("needs no centre: a constant offset alone does not alarm", () => {
    const offset = Float64Array.from(noise(24), (v) => v * 0.3 + 5);
    expect(pageHinkley(offset).firstAlarm).toBeNull();
    expect(cusum(offset).firstAlarm).not.toBeNull();
  });
});

describe("errorScale and scaleErrors", () => {
  it("estimates the centre and an sd-equivalent spread as R does", () => {
    // R: median(c(1,2,3,4,100)) = 3, mad(c(1,2,3,4,100)) = 1.4826, sd(...) = 43.617656975128774
    expect(errorScale([1, 2, 3, 4, 100])).toEqual({ center: 3, spread: 1.4826, method: "mad" });
    const sd = errorScale([1, 2, 3, 4, 100], "sd");
    expect(sd.center).toBe(22);
    expect(sd.spread).toBeCloseTo(43.617656975128774, 12);
    expect(errorScale([-1, 1, -1, 1], "mae").spread).toBeCloseTo(Math.sqrt(Math.PI / 2), 14);
    const scaled = scaleErrors([3, 4.4826, Number.NaN], errorScale([1, 2, 3, 4, 100]));
    expect(scaled[0]).toBe(0);
    expect(scaled[1]).toBeCloseTo(1, 14);
    expect(scaled[2]).toBeNaN();
    expect(() => errorScale([2, 2, 2])).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
  });

  it("lets CUSUM find a shift of two error spreads in a model's own units", () => {
    const validation = Float64Array.from(noise(40), (v) => 1 + 3 * v); // bias 1, sd 3
    const scale = errorScale(validation);
    const live = Float64Array.from(noise(24, 12, 2), (v) => 1 + 3 * v);
    const alarm = cusum(scaleErrors(live, scale)).firstAlarm;
    expect(alarm).not.toBeNull();
    expect(alarm as number).toBeGreaterThanOrEqual(12);
  });
});
