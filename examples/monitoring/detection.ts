/**
 * Detection experiment on the carparts fleet (issue 8): fit SES on the first 39 months of each complete
 * series, serve one-step forecasts over the last 12, inject a level shift into a known random half of the
 * parts at a random month, and run the change and performance checks month by month.
 *
 *   npx tsx examples/monitoring/detection.ts [--limit 500] [--seed 1] [--json out.json]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  type Detector,
  type ExperimentSeries,
  formatDetectionReport,
  parseChecksConfig,
  resolveChecks,
  runDetectionExperiment,
} from "../../src/monitoring/checks/index.js";

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
};
const seed = Number(arg("seed") ?? 1);
const limit = arg("limit") === undefined ? Number.POSITIVE_INFINITY : Number(arg("limit"));

const csv = readFileSync(fileURLToPath(new URL("../carparts/carparts.csv", import.meta.url)), "utf8");
const bySeries = new Map<string, number[]>();
for (const line of csv.split("\n").slice(1)) {
  if (line === "") continue;
  const [id, period, value] = line.split(",");
  const values = bySeries.get(id as string) ?? [];
  values[Number(period) - 1] = value === "" || value === undefined ? Number.NaN : Number(value);
  bySeries.set(id as string, values);
}
const series: ExperimentSeries[] = [...bySeries]
  .filter(([, v]) => v.length === 51 && v.every(Number.isFinite))
  .slice(0, limit)
  .map(([id, values]) => ({ id, values }));

const detector = (name: string, checks: unknown[], resamples = 1000): Detector => ({
  name,
  checks: resolveChecks(parseChecksConfig({ defaults: { seed, resamples }, checks })),
});
const detectors: Detector[] = [
  detector("cusum k=0.5 h=4 (textbook)", [{ id: "c", kind: "change", detector: "cusum", h: 4 }]),
  detector("cusum k=0.5 calibrated α=1%/12", [{ id: "c", kind: "change", detector: "cusum", alpha: 0.01 }]),
  detector(
    "cusum k=0.5 calibrated α=0.1%/12",
    [{ id: "c", kind: "change", detector: "cusum", alpha: 0.001 }],
    10000,
  ),
  detector("cusum k=2 calibrated α=1%/12", [
    { id: "c", kind: "change", detector: "cusum", k: 2, alpha: 0.01 },
  ]),
  detector(
    "cusum k=2 calibrated α=0.25%/12",
    [{ id: "c", kind: "change", detector: "cusum", k: 2, alpha: 0.0025 }],
    4000,
  ),
  detector(
    "cusum k=3 calibrated α=0.25%/12",
    [{ id: "c", kind: "change", detector: "cusum", k: 3, alpha: 0.0025 }],
    4000,
  ),
  detector("page-hinkley δ=0.5 calibrated α=1%/12", [
    { id: "c", kind: "change", detector: "page-hinkley", alpha: 0.01 },
  ]),
  detector("MAE(last 2) > 3 × ref MAE", [
    { id: "p", kind: "performance", metric: "mae", window: 2, tolerance: 2 },
  ]),
];

const report = await runDetectionExperiment({
  series,
  train: 39,
  holdout: 12,
  method: "ses",
  shifts: [
    ...[1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30].map((size) => ({ unit: "spread" as const, size })),
    ...[1, 2, 5, 10].map((size) => ({ unit: "mean" as const, size })),
  ],
  detectors,
  seed,
});
console.log(formatDetectionReport(report));
console.log(`\n${report.seconds.toFixed(1)} s`);
const out = arg("json");
if (out !== undefined) writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
