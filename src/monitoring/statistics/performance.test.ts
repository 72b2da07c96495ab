import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  accuracy,
  auc,
  brierScore,
  classifierWindowMetrics,
  expectedCalibrationError,
  forecastWindowMetrics,
  logLoss,
  regressionWindowMetrics,
} from "./index.js";

const code = expect.objectContaining({ code: "VALIDATION_FAILED" });

describe("forecastWindowMetrics", () => {
  it("computes MAE, RMSE, bias, MASE and coverage on the complete pairs", () => {
    const m = forecastWindowMetrics({
      actual: [6, 7, Number.NaN, 10],
      forecast: [5, 9, 8, 10],
      insample: [1, 3, 2, 4, 6], // seasonal-naive (m = 1) MAE: (2 + 1 + 2 + 2)/4 = 1.75
      lower: [5.5, 6, 0, 10],
      upper: [6.5, 8.5, 9, 12],
    });
    expect(m.n).toBe(3);
    expect(m.skipped).toBe(1);
    expect(m.mae).toBeCloseTo(1, 15); // |1|, |−2|, 0
    expect(m.rmse).toBeCloseTo(Math.sqrt(5 / 3), 15);
    expect(m.bias).toBeCloseTo(-1 / 3, 15); // actual − forecast
    expect(m.mase).toBeCloseTo(1 / 1.75, 15);
    expect(m.coverage).toBeCloseTo(1, 15); // 6 ∈ [5.5, 6.5], 7 ∈ [6, 8.5], 10 ∈ [10, 12] (bounds included)
  });

  it("uses the seasonal period for the MASE scale and gives NaN without a scale or bounds", () => {
    const seasonal = forecastWindowMetrics({
      actual: [3],
      forecast: [1],
      insample: [1, 5, 2, 7],
      period: 2, // |2 − 1|, |7 − 5|: scale 1.5
    });
    expect(seasonal.mase).toBeCloseTo(2 / 1.5, 15);
    expect(seasonal.coverage).toBeNaN();
    expect(forecastWindowMetrics({ actual: [1], forecast: [2] }).mase).toBeNaN();
    expect(forecastWindowMetrics({ actual: [1], forecast: [2], insample: [4, 4, 4] }).mase).toBeNaN();
    expect(forecastWindowMetrics({ actual: [Number.NaN], forecast: [2] }).mae).toBeNaN();
    expect(() => forecastWindowMetrics({ actual: [1, 2], forecast: [2] })).toThrow(code);
    expect(() => forecastWindowMetrics({ actual: [1], forecast: [2], lower: [0] })).toThrow(code);
  });
});

describe("classifier metrics", () => {
  it("match textbook values", () => {
    expect(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 15); // scikit-learn's example
    // A positive tied with a negative counts 1/2: (0.5 + 1 + 1 + 1)/4
    expect(auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])).toBeCloseTo(0.875, 15);
    expect(auc([1, 1], [0.2, 0.3])).toBeNaN();
    // scikit-learn's log_loss example: 0.21616...
    expect(logLoss([1, 0, 0, 1], [0.9, 0.1, 0.2, 0.65])).toBeCloseTo(
      -(Math.log(0.9) * 2 + Math.log(0.8) + Math.log(0.65)) / 4,
      15,
    );
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-15), 10); // clipped, not infinite
    expect(brierScore([1, 0], [0.8, 0.4])).toBeCloseTo((0.04 + 0.16) / 2, 15);
    expect(accuracy(["a", "b", "c"], ["a", "x", "c"])).toBeCloseTo(2 / 3, 15);
  });

  it("AUC equals the share of correctly ordered positive–negative pairs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 9 })), {
          minLength: 2,
          maxLength: 60,
        }),
        (rows) => {
          const labels = rows.map((r) => r[0]);
          const scores = rows.map((r) => r[1] / 10);
          let pairs = 0;
          let good = 0;
          for (const [li, si] of rows)
            for (const [lj, sj] of rows)
              if (li === 1 && lj === 0) {
                pairs++;
                good += si > sj ? 1 : si === sj ? 0.5 : 0;
              }
          const value = auc(labels, scores);
          if (pairs === 0) expect(value).toBeNaN();
          else expect(value).toBeCloseTo(good / pairs, 12);
        },
      ),
      { numRuns: 300, seed: 21 },
    );
  });

  it("expected calibration error with uniform and equal-frequency bins", () => {
    const labels = [0, 1, 1, 0, 1, 1];
    const p = [0.05, 0.15, 0.55, 0.58, 0.92, 0.97];
    // Uniform tenths: {0.05 → 0}, {0.15 → 1}, {0.55, 0.58 → 1, 0}, {0.92, 0.97 → 1, 1}
    const uniform = (0.05 + 0.85 + 2 * Math.abs(0.5 - 0.565) + 2 * Math.abs(1 - 0.945)) / 6;
    expect(expectedCalibrationError(labels, p)).toBeCloseTo(uniform, 14);
    // Three equal-frequency bins: {0.05, 0.15}, {0.55, 0.58}, {0.92, 0.97}
    const quantile = (2 * Math.abs(0.5 - 0.1) + 2 * Math.abs(0.5 - 0.565) + 2 * Math.abs(1 - 0.945)) / 6;
    expect(expectedCalibrationError(labels, p, { bins: 3, strategy: "quantile" })).toBeCloseTo(quantile, 14);
    // p = 1 falls in the last uniform bin.
    expect(expectedCalibrationError([1], [1])).toBe(0);
  });

  it("classifierWindowMetrics bundles them and bad labels or probabilities are refused", () => {
    const m = classifierWindowMetrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
    expect(m).toMatchObject({ n: 4, accuracy: 0.75, auc: 0.75 });
    expect(() => auc([0, 2], [0.1, 0.2])).toThrow(code);
    expect(() => logLoss([0, 1], [0.1, 1.2])).toThrow(code);
    expect(() => expectedCalibrationError([0], [0.5], { bins: 0 })).toThrow(code);
  });
});

describe("regressionWindowMetrics", () => {
  it("computes RMSE, MAE and bias", () => {
    expect(regressionWindowMetrics([1, 2, 3], [2, 2, 5])).toEqual({
      n: 3,
      rmse: Math.sqrt(5 / 3),
      mae: 1,
      bias: -1,
    });
    expect(regressionWindowMetrics([], []).rmse).toBeNaN();
  });
});
