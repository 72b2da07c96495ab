/**
 * Fleet benchmark: the carparts fleet end to end through the full in-process stack (SQLite, file-system
 * blobs, job queue, worker pool, training threads) under the published protocol — the 2,509 complete series,
 * the last 12 months held out — then the accuracy protocol of bench/fleet-accuracy.ts on carparts and M1,
 * with R's forecast package as the peer when Rscript is installed. Writes bench/results/fleet.json.
 *
 *   npm run bench:fleet [-- --no-r] [--r-limit N] [--m1-r-limit N] [--no-m1] [--m1] [--threads N]
 *
 * --m1 runs only the M1 comparison; --no-m1 skips it. --m1 is declared before --no-m1 so that, as Commander
 * documents, neither sets a default and a plain run does both data sets.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Table from "cli-table3";
import { Command } from "commander";
import { parse } from "csv-parse/sync";
import YAML from "yaml";
import { openServices } from "../src/cli/compose.js";
import { loadConfig } from "../src/core/index.js";
import { type FleetReport, parseFleetSpec, settingsFromSpec, toSegmentPlan } from "../src/fleets/index.js";
import {
  type AccuracyReport,
  carpartsPlan,
  DEFAULT_DATA_DIR,
  rAvailable,
  runAccuracyProtocol,
} from "./fleet-accuracy.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const HOLDOUT = 12;

const options = new Command()
  .option("--data-dir <dir>", "folder holding carparts/ and m1/", DEFAULT_DATA_DIR)
  .option("--no-r", "skip the R comparison")
  .option("--r-limit <n>", "fit R on the first N carparts series only (default: all)", (v) =>
    Number.parseInt(v, 10),
  )
  .option("--m1-r-limit <n>", "fit R on the first N M1 series only (default: --r-limit, else all)", (v) =>
    Number.parseInt(v, 10),
  )
  .option(
    "--r-cores <n>",
    "forked R workers",
    (v) => Number.parseInt(v, 10),
    Math.min(2, availableParallelism()),
  )
  .option("--m1", "run only the M1 accuracy comparison (no fleet run, no carparts)")
  .option("--no-m1", "skip the M1 accuracy comparison")
  .option(
    "--threads <n>",
    "training threads (default: the cores)",
    (v) => Number.parseInt(v, 10),
    availableParallelism(),
  )
  .parse()
  .opts<{
    dataDir: string;
    r: boolean;
    rLimit?: number;
    m1RLimit?: number;
    rCores: number;
    m1?: boolean;
    threads: number;
  }>();

const fmt = (v: number | null | undefined, digits = 4): string =>
  v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits);

const mb = (bytes: number): number => bytes / 1_048_576;

interface FleetFigures {
  models: number;
  registeredVersions: number;
  failed: number;
  wallS: number;
  uploadS: number;
  modelsPerS: number;
  peakRssMb: number;
  sampledPeakRssMb: number;
  reportPeakRssMb: number;
  kernelMaxRssMb: number;
  trainCpuS: number;
  threads: number;
  planMatchesAccuracyPlan: boolean;
  report: FleetReport;
}

/** The complete series only: the 165 short ones would fail TOO_SHORT and are outside the protocol anyway. */
function writeCompleteSeriesCsv(dataDir: string, target: string): number {
  const dir = join(dataDir, "carparts");
  const rows = parse(readFileSync(join(dir, "carparts_series.csv")), { columns: true }) as Record<
    string,
    string
  >[];
  const complete = new Set(rows.filter((r) => r.complete === "1").map((r) => r.series_id as string));
  const lines = readFileSync(join(dir, "carparts.csv"), "utf8").split("\n");
  const kept = [lines[0] as string];
  for (const line of lines.slice(1)) {
    if (complete.has(line.slice(0, line.indexOf(",")))) kept.push(line);
  }
  writeFileSync(target, `${kept.join("\n")}\n`);
  return complete.size;
}

/**
 * examples/carparts/fleet.yaml with the protocol's 12-month holdout. minLength is set explicitly because the
 * spec's default (holdout + validation span + two seasons = 54) exceeds the 51 months of every carparts series;
 * 14 matches carpartsPlan, so the fleet trains exactly what the accuracy protocol scores.
 */
function protocolSpecText(csvPath: string): string {
  const raw = YAML.parse(readFileSync(join(ROOT, "examples", "carparts", "fleet.yaml"), "utf8")) as Record<
    string,
    unknown
  >;
  const dataset = raw.dataset as Record<string, unknown>;
  return JSON.stringify({ ...raw, holdout: HOLDOUT, dataset: { ...dataset, path: csvPath, minLength: 14 } });
}

async function runFleet(dataDir: string, threads: number): Promise<FleetFigures> {
  const tmp = mkdtempSync(join(tmpdir(), "skala-fleet-bench-"));
  try {
    const csvPath = join(tmp, "carparts-complete.csv");
    const expected = writeCompleteSeriesCsv(dataDir, csvPath);
    const spec = parseFleetSpec(protocolSpecText(csvPath), {
      baseDir: tmp,
      format: "json",
      fileName: "fleet.yaml (holdout 12)",
    });
    const plan = toSegmentPlan(spec);
    // The spec names its gate baseline "baseline-snaive", carpartsPlan "snaive": only the label may differ.
    const reference = carpartsPlan(HOLDOUT);
    const planMatchesAccuracyPlan =
      JSON.stringify({
        ...plan,
        gate: { ...plan.gate, baseline: { ...plan.gate.baseline, name: "snaive" } },
      }) === JSON.stringify(reference);
    const config = loadConfig({
      env: {},
      cwd: tmp,
      flags: {
        dataDir: join(tmp, "data"),
        "log.level": "silent",
        "workers.enabled": true,
        "workers.trainingThreads": threads,
      },
    });
    const services = await openServices(config, { workers: true });
    let sampledPeak = process.memoryUsage.rss();
    const sampler = setInterval(() => {
      sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
    }, 100);
    try {
      const start = performance.now();
      const { digest } = await services.registry.artifacts.upload(readFileSync(csvPath));
      const uploadS = (performance.now() - start) / 1000;
      const { run } = await services.fleets.service.submit(spec.project, {
        settings: settingsFromSpec(spec),
        plan,
        datasetDigest: digest,
      });
      let status = run.status;
      while (status === "queued" || status === "running") {
        await new Promise((resolve) => setTimeout(resolve, 50));
        status = (await services.fleets.service.progress(spec.project, spec.name, run.id)).run.status;
      }
      const wallS = (performance.now() - start) / 1000;
      clearInterval(sampler);
      sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
      const kernelMaxRssMb = process.resourceUsage().maxRSS / 1024;
      if (status !== "succeeded") throw new Error(`fleet run ${run.id} ended ${status}`);
      const report = await services.fleets.service.report(spec.project, spec.name, run.id);

      // Count what the registry holds, not what the fleet says it registered.
      let registeredVersions = 0;
      let cursor: string | undefined;
      do {
        const page = await services.registry.versions.search(spec.project, {
          filter: `fleet = ${JSON.stringify(spec.name)}`,
          limit: 1000,
          ...(cursor && { cursor }),
        });
        registeredVersions += page.items.length;
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      if (registeredVersions !== expected) {
        throw new Error(`the registry holds ${registeredVersions} versions, expected ${expected}`);
      }

      const sampledPeakRssMb = mb(sampledPeak);
      return {
        models: report.segments.registered,
        registeredVersions,
        failed: report.segments.failed,
        wallS,
        uploadS,
        modelsPerS: report.segments.registered / wallS,
        // The kernel's high-water mark catches spikes between samples; the fleet runs first, so it is the fleet's.
        peakRssMb: Math.max(sampledPeakRssMb, report.resources.peakRssMb, kernelMaxRssMb),
        sampledPeakRssMb,
        reportPeakRssMb: report.resources.peakRssMb,
        kernelMaxRssMb,
        trainCpuS: report.resources.trainCpuSeconds,
        threads,
        planMatchesAccuracyPlan,
        report,
      };
    } finally {
      clearInterval(sampler);
      await services.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function printFleet(f: FleetFigures): void {
  const r = f.report;
  const wins = Object.entries(r.winners)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  console.log(
    `\nfleet carparts (holdout ${HOLDOUT}), ${f.threads} training threads on ${availableParallelism()} cores:`,
  );
  console.log(
    `  ${f.models} models registered (registry holds ${f.registeredVersions} versions), ${f.failed} failed, in ${fmt(f.wallS, 2)} s (upload ${fmt(f.uploadS, 3)} s): ${fmt(f.modelsPerS, 1)} models/s`,
  );
  console.log(
    `  training CPU ${fmt(f.trainCpuS, 1)} s; peak RSS ${fmt(f.peakRssMb, 0)} MB (sampled every 100 ms ${fmt(f.sampledPeakRssMb, 0)}, fleet report ${fmt(f.reportPeakRssMb, 0)}, kernel high-water ${fmt(f.kernelMaxRssMb, 0)})`,
  );
  console.log(
    `  holdout (from the fleet's registered metrics): MASE ${fmt(r.holdout.mase?.mean)} over ${r.holdout.mase?.count ?? 0} series with a non-zero scale, RMSSE ${fmt(r.holdout.rmsse?.mean)}, pooled WQL ${fmt(r.holdoutWql)}`,
  );
  console.log(
    `  winners: ${wins}; gate passed ${r.segments.passedGate}, flagged ${r.segments.flagged}; plan identical to carpartsPlan(): ${f.planMatchesAccuracyPlan}`,
  );
}

interface Target {
  name: string;
  target: string;
  value: string;
  pass: boolean | null;
}

function printTargets(targets: Target[]): void {
  const table = new Table({
    style: { head: [], border: [] },
    head: ["target", "goal", "measured", "result"],
  });
  for (const t of targets)
    table.push([t.name, t.target, t.value, t.pass === null ? "n/a" : t.pass ? "PASS" : "FAIL"]);
  console.log(table.toString());
}

async function main(): Promise<void> {
  const started = performance.now();
  const withR = options.r && (await rAvailable());
  if (options.r && !withR) console.log("Rscript with forecast not found: R comparisons skipped");
  const m1RLimit = options.m1RLimit ?? options.rLimit;

  if (options.m1) {
    await runAccuracyProtocol({
      dataset: "m1",
      dataDir: options.dataDir,
      withR,
      rCores: options.rCores,
      ...(m1RLimit && { rLimit: m1RLimit }),
    });
    return;
  }

  // The fleet runs first and alone: its wall time and memory are not disturbed by the accuracy runs or R.
  const fleet = await runFleet(options.dataDir, options.threads);
  printFleet(fleet);

  const carparts = await runAccuracyProtocol({
    dataset: "carparts",
    dataDir: options.dataDir,
    withR,
    rCores: options.rCores,
    ...(options.rLimit && { rLimit: options.rLimit }),
  });

  let m1: AccuracyReport | null = null;
  if (options.m1 !== false) {
    m1 = await runAccuracyProtocol({
      dataset: "m1",
      dataDir: options.dataDir,
      withR,
      rCores: options.rCores,
      ...(m1RLimit && { rLimit: m1RLimit }),
    });
  }

  // The selection's figures come from the fleet run; the in-process re-run of the same plan cross-checks them.
  const maseAuto = fleet.report.holdout.mase?.mean ?? Number.NaN;
  const rmsseAuto = fleet.report.holdout.rmsse?.mean ?? Number.NaN;
  const wqlAuto = fleet.report.holdoutWql ?? Number.NaN;
  console.log(
    `\nauto selection: fleet run MASE ${fmt(maseAuto)} / RMSSE ${fmt(rmsseAuto)} / WQL ${fmt(wqlAuto)}; in-process evaluateAuto ${fmt(carparts.mase_auto)} / ${fmt(carparts.rmsse_auto)} / ${fmt(carparts.wql_auto)}`,
  );

  const rEtsWallS = carparts.r_ets_wall_s;
  const rEtsParallelWallS = carparts.r?.wall_s_by_method.ets ?? null;
  const rEtsSeries = carparts.r?.series ?? 0;
  // R's parallel wall covers rEtsSeries series: scale it to the fleet's series for the fleet comparison.
  const rEtsParallelAllS =
    rEtsParallelWallS !== null && rEtsSeries > 0 ? (rEtsParallelWallS / rEtsSeries) * fleet.models : null;
  const fleetVsREts1 = rEtsWallS !== null ? rEtsWallS / fleet.wallS : null;
  const fleetVsREtsParallel = rEtsParallelAllS !== null ? rEtsParallelAllS / fleet.wallS : null;
  if (rEtsWallS !== null) {
    console.log(
      `Skala ets vs R ets on the same ${carparts.series} series (1 core each): ${fmt(carparts.skala_ets_wall_s, 2)} s vs ${fmt(rEtsWallS, 1)} s = ${fmt(carparts.speedup_vs_r_ets, 1)}× faster`,
    );
    console.log(
      `whole Skala fleet (${fleet.threads} threads, ${fmt(fleet.wallS, 2)} s) vs R ets alone: ${fmt(fleetVsREts1, 1)}× (R on 1 core, ${fmt(rEtsWallS, 1)} s), ${fmt(fleetVsREtsParallel, 1)}× (R with ${carparts.r?.cores ?? 0} forked workers, ${fmt(rEtsParallelAllS, 1)} s)`,
    );
  }

  const cores = availableParallelism();
  const targets: Target[] = [
    {
      name: "whole carparts fleet",
      target: `< 60 s on 2 cores (here ${cores})`,
      value: `${fmt(fleet.wallS, 2)} s`,
      pass: fleet.wallS < 60,
    },
    {
      name: "Skala ets vs R ets (1 core each)",
      target: "≥ 10× faster",
      value: `${fmt(carparts.speedup_vs_r_ets, 1)}×`,
      pass: carparts.speedup_vs_r_ets === null ? null : carparts.speedup_vs_r_ets >= 10,
    },
    {
      name: "whole fleet vs R ets alone (same cores)",
      target: "≥ 10× faster",
      value: `${fmt(fleetVsREtsParallel, 1)}×`,
      pass: fleetVsREtsParallel === null ? null : fleetVsREtsParallel >= 10,
    },
    {
      name: "auto selection WQL (fleet)",
      target: "< 1.333",
      value: fmt(wqlAuto),
      pass: wqlAuto < 1.333,
    },
    {
      name: "auto selection MASE (fleet)",
      target: `≤ best R single method (${fmt(carparts.mase_best_r)})`,
      value: fmt(maseAuto),
      pass: carparts.mase_best_r === null ? null : maseAuto <= carparts.mase_best_r,
    },
  ];
  console.log("\ntargets:");
  printTargets(targets);

  const summary = {
    models: fleet.models,
    wall_s: fleet.wallS,
    models_per_s: fleet.modelsPerS,
    peak_rss_mb: fleet.peakRssMb,
    mase_auto: maseAuto,
    mase_by_method: carparts.mase_by_method,
    mase_best_r: carparts.mase_best_r,
    rmsse_auto: rmsseAuto,
    wql_auto: wqlAuto,
    r_ets_wall_s: rEtsWallS,
    speedup_vs_r_ets: carparts.speedup_vs_r_ets,
    rmsse_by_method: carparts.rmsse_by_method,
    wql_by_method: carparts.wql_by_method,
    seconds_by_method: carparts.seconds_by_method,
    registered_versions: fleet.registeredVersions,
    failed: fleet.failed,
    training_threads: fleet.threads,
    cores,
    train_cpu_s: fleet.trainCpuS,
    winners: fleet.report.winners,
    gate_passed: fleet.report.segments.passedGate,
    auto_in_process: {
      mase: carparts.mase_auto,
      rmsse: carparts.rmsse_auto,
      wql: carparts.wql_auto,
      ms_per_series: carparts.auto_ms_per_series,
    },
    snaive_mase: carparts.snaive_mase,
    r_ets_parallel_wall_s: rEtsParallelAllS,
    fleet_speedup_vs_r_ets_1core: fleetVsREts1,
    fleet_speedup_vs_r_ets_parallel: fleetVsREtsParallel,
    r: carparts.r,
    m1,
    targets: Object.fromEntries(
      targets.map((t) => [t.name, { goal: t.target, measured: t.value, pass: t.pass }]),
    ),
    measured_at: new Date().toISOString(),
  };
  // JSON has no NaN: a figure that could not be measured is written as null.
  const json = JSON.stringify(
    summary,
    (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
    2,
  );
  writeFileSync(join(ROOT, "bench", "results", "fleet.json"), `${json}\n`);
  console.log(`written: bench/results/fleet.json (total ${fmt((performance.now() - started) / 1000, 1)} s)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
