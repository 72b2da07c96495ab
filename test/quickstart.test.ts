import { readFileSync } from "node:fs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import {
  QUICKSTART_WEIGHTS,
  quickstartDemand,
  quickstartModel,
  quickstartRecentDemand,
} from "../scripts/make-quickstart.js";

const file = (name: string) => readFileSync(new URL(`../examples/quickstart/${name}`, import.meta.url));

/** examples/quickstart/ is generated: the committed files are what the script writes, and the model runs. */
describe("the quickstart example", () => {
  it("holds exactly what scripts/make-quickstart.ts writes", () => {
    expect(new Uint8Array(file("model.onnx"))).toEqual(quickstartModel());
    expect(file("demand.csv").toString()).toBe(quickstartDemand());
    expect(file("recent-demand.csv").toString()).toBe(quickstartRecentDemand());
  });

  it("has a model that onnxruntime loads and that weighs the last three months", async () => {
    const session = await InferenceSession.create(file("model.onnx"), { intraOpNumThreads: 1 });
    expect(session.inputNames).toEqual(["lags"]);
    expect(session.outputNames).toEqual(["forecast"]);
    const rows = [
      [12, 10, 8],
      [30, 28, 35],
    ];
    const { forecast } = await session.run({
      lags: new Tensor("float32", Float32Array.from(rows.flat()), [2, 3]),
    });
    const expected = rows.map((row) =>
      row.reduce((sum, x, i) => sum + x * (QUICKSTART_WEIGHTS[i] as number), 0),
    );
    if (forecast === undefined) throw new Error("no forecast output");
    expect(forecast.dims).toEqual([2, 1]);
    [...(forecast.data as Float32Array)].forEach((value, i) => {
      expect(value).toBeCloseTo(expected[i] as number, 5);
    });
    await session.release();
  });
});
