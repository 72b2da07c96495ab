import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type Detector,
  type ExperimentSeries,
  parseChecksConfig,
  resolveChecks,
  runDetectionExperiment,
} from "./index.js";

/** The first 120 complete carparts series (examples/carparts/carparts.csv, GPL-3 data). */
function carparts(limit: number): ExperimentSeries[] {
  const csv = readFileSync(
    fileURLToPath(new URL("../../../examples/carparts/carparts.csv", import.meta.url)),
    "utf8",
  );
  const bySeries = new Map<string, number[]>();
  for (const line of csv.split("\n").slice(1)) {
    if (line === "") continue;
    const [id, period, value] = line.split(",");
    const values = bySeries.get(id as string) ?? [];
    values[Number(period) - 1] = value === "" ? Number.NaN : Number(value);
    bySeries.set(id as string, values);
  }
  return [...bySeries]
    .filter(([, v]) => v.length === 51 && v.every(Number.isFinite))
    .slice(0, limit)
    .map(([id, values]) => ({ id, values }));
}

const detector = (name: string, checks: unknown[]): Detector => ({
  name,
  checks: resolveChecks(parseChecksConfig({ defaults: { seed: 3, resamples: 1000 }, checks })),
});

describe("detection experiment on carparts", () => {
  const series = carparts(120);
  const options = {
    series,
    train: 39,
    holdout: 12,
    seed: 11,
    shifts: [
      { unit: "spread", size: 1 },
      { unit: "spread", size: 5 },
      { unit: "spread", size: 20 },
    ] as const,
    detectors: [
      detector("textbook", [{ id: "c", kind: "change", detector: "cusum", h: 4 }]),
      detector("calibrated", [{ id: "c", kind: "change", detector: "cusum", k: 2, alpha: 0.01 }]),
    ],
  };

  it("finds large shifts quickly, small ones rarely, and calibration spares the untouched parts", async () => {
    const report = await runDetectionExperiment(options);
    expect(report.shifted + report.controls + report.skipped).toBe(120);
    expect(report.shifted).toBeGreaterThan(40);
    const [textbook, calibrated] = report.detectors;
    if (textbook === undefined || calibrated === undefined) throw new Error("missing detector");
    // A fixed h = 4 on heavy-tailed intermittent errors flags a large share of untouched parts.
    expect(textbook.controlFlagged).toBeGreaterThan(0.2);
    expect(calibrated.controlFlagged).toBeLessThan(0.06);
    const recall = calibrated.cells.map((c) => c.recallWithin);
    expect(recall[0]).toBeLessThan(0.1); // 1 spread: not detectable within 2 periods
    expect(recall[2]).toBeGreaterThan(0.85); // 20 spreads: nearly always within 2 periods
    expect(recall[0]).toBeLessThanOrEqual(recall[1] as number);
    expect(recall[1]).toBeLessThanOrEqual(recall[2] as number);
    expect(calibrated.cells[2]?.precision).toBeGreaterThan(0.9);
    expect(calibrated.cells[2]?.medianDelay).toBeLessThanOrEqual(1);
  }, 60_000);

  it("is reproducible from its seed", async () => {
    const small = { ...options, series: series.slice(0, 30), detectors: options.detectors.slice(1) };
    const a = await runDetectionExperiment(small);
    const b = await runDetectionExperiment(small);
    expect(a.detectors).toEqual(b.detectors);
  }, 60_000);
});
