/**
 * The detection experiment: can the change and performance checks find a level shift in a forecast fleet
 * quickly without flagging the models nothing happened to? For each series: fit a model on the training
 * months, serve one-step-ahead forecasts over the holdout (the fitted parameters fixed, the level updated by
 * each arriving actual, as a served model would), take its in-sample one-step errors as the validation
 * errors, calibrate the checks once, and evaluate them month by month as the actuals arrive. A known random
 * subset of the series gets a level shift added to its actuals from a random holdout month on; the rest are
 * the untouched controls. Pure: the caller reads the data.
 */
import { fitModel, type MethodName } from "../../forecasting/index.js";
import { createRng, type SpreadMethod } from "../statistics/index.js";
import { calibrate, changeScale, type ModelCalibration } from "./check-calibration.js";
import type { ResolvedCheck } from "./check-config.js";
import { evaluateChecks } from "./check-evaluator.js";
import type { ModelMonitoringData } from "./monitoring-data.js";

export interface ExperimentSeries {
  readonly id: string;
  readonly values: ArrayLike<number>;
}

/** A shift of `size` times the series' error spread, or times its mean training demand. */
export interface ShiftSize {
  readonly unit: "spread" | "mean";
  readonly size: number;
}

/** A named set of checks to try; a part is flagged in the first month any of them is violated. */
export interface Detector {
  readonly name: string;
  readonly checks: readonly ResolvedCheck[];
}

export interface DetectionExperimentOptions {
  readonly series: readonly ExperimentSeries[];
  /** Months fitted; the rest (up to `holdout`) are served. */
  readonly train: number;
  readonly holdout: number;
  readonly method?: MethodName;
  readonly period?: number;
  /** Share of the series given a shift; the others are controls. Default 0.5. */
  readonly shiftedShare?: number;
  readonly shifts: readonly ShiftSize[];
  readonly detectors: readonly Detector[];
  /** Detection counts when the first flag comes within this many shifted periods. Default 2. */
  readonly within?: number;
  /** The error spread that sizes a shift in spread units. Default "auto", as the change checks scale. */
  readonly spread?: "auto" | SpreadMethod;
  readonly seed: number;
}

export interface DetectionCell {
  readonly shift: ShiftSize;
  readonly shifted: number;
  /** Shifted series first flagged within `within` periods of the shift. */
  readonly recallWithin: number;
  /** Shifted series flagged at or after the shift at any time in the holdout. */
  readonly recall: number;
  /** Flags at or after a shift over all flagged series (controls' and early flags are false). */
  readonly precision: number;
  /** Median and mean periods from the shift to the first flag (0: flagged in the shift's first month). */
  readonly medianDelay: number | null;
  readonly meanDelay: number | null;
  /** Shifted series flagged before their shift. */
  readonly earlyFlags: number;
}

export interface DetectorReport {
  readonly detector: string;
  readonly controls: number;
  /** Share of the untouched series flagged at least once over the holdout. */
  readonly controlFlagged: number;
  readonly cells: readonly DetectionCell[];
}

export interface DetectionReport {
  readonly series: number;
  readonly skipped: number;
  readonly shifted: number;
  readonly controls: number;
  readonly within: number;
  readonly detectors: readonly DetectorReport[];
  readonly seconds: number;
}

interface Prepared {
  readonly id: string;
  readonly train: Float64Array;
  readonly actual: Float64Array;
  readonly validationErrors: Float64Array;
  readonly alpha: number;
  readonly level: number;
  readonly spread: number;
  readonly mean: number;
  readonly mae: number;
}

function prepare(s: ExperimentSeries, options: DetectionExperimentOptions): Prepared | undefined {
  const { train, holdout } = options;
  const values = Float64Array.from(s.values);
  if (values.length < train + holdout || values.some((v) => !Number.isFinite(v))) return undefined;
  const y = values.subarray(0, train);
  const fit = fitModel(options.method ?? "ses", y, { period: options.period ?? 12 });
  if (!fit.ok || fit.value.fitted === undefined) return undefined;
  const state = fit.value.toState().core;
  if (state.kind !== "ets" && state.kind !== "flat") return undefined;
  const alpha = state.alpha;
  const level = state.kind === "ets" ? (state.state[0] as number) : state.value;
  const fitted = fit.value.fitted;
  const errors: number[] = [];
  for (let i = 0; i < train; i++)
    if (Number.isFinite(fitted[i])) errors.push((y[i] as number) - (fitted[i] as number));
  let spread: number;
  try {
    spread = changeScale(errors, options.spread ?? "auto").spread;
  } catch {
    return undefined;
  }
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  const mae = errors.reduce((a, e) => a + Math.abs(e), 0) / errors.length;
  return {
    id: s.id,
    train: Float64Array.from(y),
    actual: values.slice(train, train + holdout),
    validationErrors: Float64Array.from(errors),
    alpha,
    level,
    spread,
    mean,
    mae,
  };
}

/** One-step-ahead forecasts of a served exponential-smoothing model whose level each actual updates. */
function serve(part: Prepared, actual: Float64Array): Float64Array {
  const out = new Float64Array(actual.length);
  let level = part.level;
  for (let t = 0; t < actual.length; t++) {
    out[t] = level;
    level += part.alpha * ((actual[t] as number) - level);
  }
  return out;
}

/** The first holdout month (0-based) in which any check is violated, evaluating month by month; null if none. */
async function firstFlag(
  part: Prepared,
  checks: readonly ResolvedCheck[],
  calibration: ModelCalibration,
  actual: Float64Array,
  train: number,
): Promise<number | null> {
  const forecast = serve(part, actual);
  const reference = { validationErrors: part.validationErrors, metrics: { mae: part.mae } };
  for (let m = 1; m <= actual.length; m++) {
    const data: ModelMonitoringData = {
      model: part.id,
      kind: "forecast",
      reference,
      observations: {
        periods: Float64Array.from({ length: m }, (_, i) => train + i + 1),
        actual: actual.subarray(0, m),
        prediction: forecast.subarray(0, m),
      },
    };
    const results = await evaluateChecks(checks, data, { calibration });
    if (results.some((r) => r.outcome === "violated")) return m - 1;
  }
  return null;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Run the experiment: every detector against every shift size, the same shifted subset and shift months
 * for all (a paired comparison), controls evaluated once per detector.
 *
 * @example
 * const report = await runDetectionExperiment({ series, train: 39, holdout: 12, seed: 1,
 *   shifts: [{ unit: "spread", size: 3 }], detectors: [{ name: "cusum", checks }] });
 * console.log(formatDetectionReport(report));
 */
export async function runDetectionExperiment(options: DetectionExperimentOptions): Promise<DetectionReport> {
  const started = performance.now();
  const within = options.within ?? 2;
  const rng = createRng(options.seed);
  const parts: Prepared[] = [];
  let skipped = 0;
  for (const s of options.series) {
    const p = prepare(s, options);
    if (p === undefined) skipped++;
    else parts.push(p);
  }
  // The known random subset and each shifted part's first shifted month (leaving `within` months to see it).
  const share = options.shiftedShare ?? 0.5;
  const shiftAt = new Map<string, number>();
  const latest = Math.max(0, options.holdout - within);
  for (const p of parts) if (rng.next() < share) shiftAt.set(p.id, rng.int(latest + 1));
  const controls = parts.filter((p) => !shiftAt.has(p.id));
  const shifted = parts.filter((p) => shiftAt.has(p.id));
  const detectors: DetectorReport[] = [];
  for (const detector of options.detectors) {
    const calibrations = new Map<string, ModelCalibration>();
    for (const p of parts)
      calibrations.set(p.id, calibrate(detector.checks, { validationErrors: p.validationErrors }));
    let controlFlags = 0;
    for (const p of controls)
      if ((await firstFlag(p, detector.checks, calibrations.get(p.id)!, p.actual, options.train)) !== null)
        controlFlags++;
    const cells: DetectionCell[] = [];
    for (const shift of options.shifts) {
      let hits = 0;
      let found = 0;
      let early = 0;
      const delays: number[] = [];
      for (const p of shifted) {
        const s = shiftAt.get(p.id) as number;
        const amount = shift.size * (shift.unit === "spread" ? p.spread : p.mean);
        const actual = Float64Array.from(p.actual, (v, t) => (t >= s ? v + amount : v));
        const flag = await firstFlag(p, detector.checks, calibrations.get(p.id)!, actual, options.train);
        if (flag === null) continue;
        if (flag < s) {
          early++;
          continue;
        }
        found++;
        delays.push(flag - s);
        if (flag - s < within) hits++;
      }
      const flagged = found + early + controlFlags;
      cells.push({
        shift,
        shifted: shifted.length,
        recallWithin: shifted.length === 0 ? 0 : hits / shifted.length,
        recall: shifted.length === 0 ? 0 : found / shifted.length,
        precision: flagged === 0 ? 1 : found / flagged,
        medianDelay: median(delays),
        meanDelay: delays.length === 0 ? null : delays.reduce((a, b) => a + b, 0) / delays.length,
        earlyFlags: early,
      });
    }
    detectors.push({
      detector: detector.name,
      controls: controls.length,
      controlFlagged: controls.length === 0 ? 0 : controlFlags / controls.length,
      cells,
    });
  }
  return {
    series: options.series.length,
    skipped,
    shifted: shifted.length,
    controls: controls.length,
    within,
    detectors,
    seconds: (performance.now() - started) / 1000,
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}`;

/** The report as a plain-text table: one row per detector, recall within `within` periods per shift size. */
export function formatDetectionReport(report: DetectionReport): string {
  const lines: string[] = [];
  const shifts =
    report.detectors[0]?.cells.map((c) => `${c.shift.size}${c.shift.unit === "spread" ? "σ" : "μ"}`) ?? [];
  lines.push(
    `${report.series} series (${report.skipped} skipped), ${report.shifted} shifted, ${report.controls} untouched; ` +
      `recall = share of shifted series flagged within ${report.within} periods (%); σ = the series' error spread, μ = its mean training demand`,
  );
  const header = ["detector", "ctrl flagged %", ...shifts.map((s) => `R@${report.within} ${s}`)];
  const rows = report.detectors.map((d) => [
    d.detector,
    pct(d.controlFlagged),
    ...d.cells.map((c) => pct(c.recallWithin)),
  ]);
  lines.push(...table(header, rows));
  lines.push("");
  lines.push("precision % / median delay (periods) / recall at any delay %, per shift size:");
  const rows2 = report.detectors.map((d) => [
    d.detector,
    ...d.cells.map((c) => `${pct(c.precision)}/${c.medianDelay ?? "-"}/${pct(c.recall)}`),
  ]);
  lines.push(...table(["detector", ...shifts], rows2));
  return lines.join("\n");
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)];
}
