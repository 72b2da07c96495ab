import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { COMMITTED_DATA } from "../core/test-support/datasets.js";
import {
  bias,
  coverage,
  mae,
  mase,
  meanFinite,
  meanPinball,
  pinball,
  rmse,
  rmsse,
  scaledPinball,
  smape,
  WqlAccumulator,
  weightedQuantileLoss,
} from "./metrics.js";

const actual = [3, 0, 4, 2];
const forecast = [2, 1, 4, 4];

describe("point metrics", () => {
  it("computes MAE, RMSE, bias and sMAPE by their definitions", () => {
    expect(mae(actual, forecast)).toBe(1);
    expect(rmse(actual, forecast)).toBeCloseTo(Math.sqrt(6 / 4), 14);
    expect(bias(actual, forecast)).toBe(-0.5);
    // 200/4 · (1/5 + 1/1 + 0 + 2/6)
    expect(smape(actual, forecast)).toBeCloseTo(50 * (0.2 + 1 + 1 / 3), 12);
    expect(smape([0, 0], [0, 0])).toBe(0);
  });

  it("scales MASE and RMSSE by the in-sample seasonal naive error", () => {
    const insample = [1, 2, 3, 1, 3, 5];
    // lag-3 differences: 0, 1, 2 → MAE scale 1, MSE scale 5/3.
    expect(mase(actual, forecast, insample, 3)).toBe(1);
    expect(rmsse(actual, forecast, insample, 3)).toBeCloseTo(Math.sqrt(1.5 / (5 / 3)), 14);
    // Lag 1: |1|+|1|+|2|+|2|+|2| = 8 over 5.
    expect(mase(actual, forecast, insample, 1)).toBeCloseTo(1 / 1.6, 14);
  });

  it("returns NaN for a zero or undefined scale, so callers can skip the series", () => {
    expect(mase(actual, forecast, [2, 2, 2, 2], 1)).toBeNaN();
    expect(rmsse(actual, forecast, [0, 0, 0, 0, 0], 2)).toBeNaN();
    expect(mase(actual, forecast, [1, 2], 12)).toBeNaN();
    expect(meanFinite([1, Number.NaN, 3])).toBe(2);
  });

  it("throws on mismatched lengths (a programming error, not data)", () => {
    expect(() => mae([1, 2], [1])).toThrow(RangeError);
  });
});

describe("probabilistic metrics", () => {
  it("pinball loss and interval coverage", () => {
    expect(pinball(10, 8, 0.9)).toBeCloseTo(1.8, 14);
    expect(pinball(10, 12, 0.9)).toBeCloseTo(0.2, 14);
    expect(meanPinball([10, 10], [8, 12], 0.5)).toBe(1);
    expect(coverage([1, 5, 9], [0, 0, 0], [5, 5, 5])).toBeCloseTo(2 / 3, 14);
  });

  it("scaled pinball loss averages levels and horizon over the seasonal-naive scale", () => {
    const q = new Map([
      [0.5, [2, 1, 4, 4]],
      [0.9, [4, 2, 5, 5]],
    ]);
    const median = (0.5 + 0.5 + 0 + 1) / 4;
    const upper = (0.1 + 0.2 + 0.1 + 0.3) / 4;
    expect(scaledPinball(actual, q, [1, 2, 3, 1, 3, 5], 3)).toBeCloseTo((median + upper) / 2, 14);
  });

  it("WQL sums losses over series before dividing by total |actual| (fev/GluonTS)", () => {
    const a = { actual: [1, 0], quantiles: new Map([[0.5, [0, 0]]]) };
    const b = { actual: [3, 4], quantiles: new Map([[0.5, [3, 2]]]) };
    // 2·(0.5 + 0 + 0 + 1) / (1 + 0 + 3 + 4)
    expect(weightedQuantileLoss([a, b], [0.5])).toBeCloseTo(3 / 8, 14);
    const acc = new WqlAccumulator([0.5]);
    expect(acc.value()).toBeNaN();
    acc.add(a.actual, a.quantiles);
    acc.add(b.actual, b.quantiles);
    expect(acc.series).toBe(2);
    expect(acc.value()).toBeCloseTo(3 / 8, 14);
    expect(() => new WqlAccumulator().add([1], new Map([[0.5, [1]]]))).toThrow(RangeError);
  });
});

const CARPARTS = COMMITTED_DATA.carparts;

describe("published carparts protocol", () => {
  it("reproduces the seasonal naive MASE of 1.2015 (2,509 complete series, 12-month holdout, m = 12)", () => {
    const series = new Map<string, number[]>();
    for (const line of readFileSync(CARPARTS, "utf8").trim().split("\n").slice(1)) {
      const [id, , value] = line.split(",");
      const values = series.get(id as string) ?? [];
      values.push(value === "" ? Number.NaN : Number(value));
      series.set(id as string, values);
    }
    const scores: number[] = [];
    for (const y of series.values()) {
      if (!y.every(Number.isFinite)) continue;
      const train = y.slice(0, y.length - 12);
      const test = y.slice(y.length - 12);
      const snaive = test.map((_, i) => train[train.length - 12 + i] as number);
      scores.push(mase(test, snaive, train, 12));
    }
    expect(scores.length).toBe(2509);
    expect(scores.filter(Number.isNaN).length).toBe(16);
    expect(meanFinite(scores)).toBeCloseTo(1.2014638390969914, 12);
  });
});
