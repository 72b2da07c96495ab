import { type Clock, newId, SkalaError } from "../core/index.js";
import type { JobQueue } from "../jobs/index.js";
import type { ProfiledDataset, Registry } from "../registry/index.js";
import { type Executor, inTransaction, type SqlDialect, type Store } from "../store/index.js";
import { FleetRepository, type SegmentRecord, type StoredRun } from "./fleet.repository.js";
import type { Distribution, FleetProgress, FleetReport, FleetRun } from "./fleet.types.js";
import {
  CHUNK_JOB,
  type ChunkPayload,
  FINALIZE_JOB,
  type FinalizePayload,
  type FleetRunner,
  runKey,
} from "./fleet-runner.js";
import type { FleetRunSettings } from "./fleet-settings.js";
import type { SegmentPlan } from "./segment-plan.js";
import type { LoadedSeries } from "./series-loader.js";

export interface SubmitFleetInput {
  settings: FleetRunSettings;
  plan: SegmentPlan;
  /** The dataset file, already uploaded to the artifact store. */
  datasetDigest: string;
}

export interface SubmitFleetResult {
  run: FleetRun;
  /** False when the same spec over the same data was submitted before: that run is returned (and resumes). */
  created: boolean;
}

/** A run that a resubmission resumes; after a failed or cancelled one, the same submission starts anew. */
function resumable(run: StoredRun | undefined): run is StoredRun {
  return run !== undefined && run.status !== "cancelled" && run.status !== "failed";
}

function distribution(values: number[]): Distribution | undefined {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return undefined;
  const at = (p: number) => finite[Math.min(finite.length - 1, Math.floor(p * finite.length))] as number;
  return {
    count: finite.length,
    mean: finite.reduce((a, b) => a + b, 0) / finite.length,
    p10: at(0.1),
    p50: at(0.5),
    p90: at(0.9),
  };
}

/**
 * Fleets: one spec trained over every segment of a dataset. Submitting registers the dataset version, opens
 * a run, records segments the loader already rejected, and fans the rest out as chunk jobs, all in one
 * transaction; workers (any process sharing the database) do the training and registration (FleetRunner).
 */
export class FleetService {
  private readonly db: Executor;
  private readonly dialect: SqlDialect;
  private readonly fleets: FleetRepository;

  constructor(
    store: Pick<Store, "db" | "sqlDialect">,
    private readonly registry: Registry,
    private readonly jobs: JobQueue,
    private readonly runner: FleetRunner,
    private readonly clock: Clock,
  ) {
    this.db = store.db;
    this.dialect = store.sqlDialect;
    this.fleets = new FleetRepository(store.db);
  }

  private async projectId(project: string): Promise<string> {
    return (await this.registry.projects.get(project)).id;
  }

  /**
   * Submits a fleet run, or returns the live run of the same spec over the same data. Everything the run
   * needs to start (dataset version, registry run, fleet run, failed segments, chunk jobs) commits in one
   * transaction or not at all, and identical submissions at the same moment yield one run.
   */
  async submit(project: string, input: SubmitFleetInput): Promise<SubmitFleetResult> {
    const projectId = await this.projectId(project);
    const key = runKey(projectId, input.settings, input.plan, input.datasetDigest);
    // The usual resubmission (`npm start` again) is answered from one read, without parsing the file.
    const known = await this.fleets.latestRunOfKey(key);
    if (resumable(known)) return { run: known, created: false };
    // Parsed and profiled before the transaction, which must not hold the database while CPU work and blob
    // reads run; a file error (line, column) rejects the submission before anything is written.
    const data = await this.runner.dataset(input.datasetDigest, input.settings);
    const profiled = await this.registry.datasets.profile(input.datasetDigest);
    const submitted = await inTransaction(this.db, async (trx) => {
      // Identical submissions queue here, so the check below sees the run an earlier one committed.
      await this.dialect.lockKey(trx, `fleet-submission:${key}`);
      const latest = await this.fleets.latestRunOfKey(key, trx);
      if (resumable(latest)) return { runId: latest.id, created: false, chunks: 0 };
      const { runId, chunks } = await this.createRun(
        project,
        projectId,
        input,
        { key, latest, data, profiled },
        trx,
      );
      return { runId, created: true, chunks };
    });
    if (submitted.created && submitted.chunks === 0) {
      // Nothing to train (every series failed to load): finish now, through the path of a normal run. The
      // finalize job committed with the run does it instead if this process stops first.
      await this.runner.finalize({ runId: submitted.runId });
    }
    const run = (await this.fleets.runById(submitted.runId)) as StoredRun;
    return { run, created: submitted.created };
  }

  /** The writes of a new run, on the submission's transaction. */
  private async createRun(
    project: string,
    projectId: string,
    input: SubmitFleetInput,
    prepared: {
      key: string;
      /** The latest run under the key, failed or cancelled, if any. */
      latest: StoredRun | undefined;
      data: LoadedSeries;
      profiled: ProfiledDataset;
    },
    trx: Executor,
  ): Promise<{ runId: string; chunks: number }> {
    const { settings, plan } = input;
    const dataset = await this.registry.datasets.recordVersion(
      project,
      settings.fleet,
      prepared.profiled,
      trx,
    );
    const now = this.clock.now();
    const at = now.toISOString();
    const registryRun = await this.registry.runs.create(
      project,
      {
        name: `fleet ${settings.fleet}`,
        params: {
          fleet: settings.fleet,
          horizon: String(plan.horizon),
          period: String(plan.period),
          candidates: plan.candidates.map((c) => c.name).join(","),
          selection: plan.selectionMetric,
          dataset_version: dataset.id,
        },
        sourceRef: `fleet:${settings.fleet}`,
      },
      trx,
    );
    const seriesIds = [...prepared.data.series.keys()];
    const failures = prepared.data.failures;
    const chunks: ChunkPayload[] = [];
    for (let start = 0; start < seriesIds.length; start += settings.chunkSize) {
      chunks.push({
        runId: registryRun.id,
        chunk: chunks.length,
        seriesIds: seriesIds.slice(start, start + settings.chunkSize),
      });
    }
    const fleet = await this.fleets.upsertFleet(
      { id: newId("flt", now), projectId, name: settings.fleet, spec: JSON.stringify(settings), at },
      trx,
    );
    await this.fleets.insertRun(
      {
        id: registryRun.id,
        fleet_id: fleet.id,
        status: "queued",
        // A resubmission after a failed or cancelled run starts a new run: the key must stay unique.
        idempotency_key: prepared.latest ? `${prepared.key}:${registryRun.id}` : prepared.key,
        spec: JSON.stringify(settings),
        plan: JSON.stringify(plan),
        dataset_version_id: dataset.id,
        dataset_digest: input.datasetDigest,
        total: seriesIds.length + failures.length,
        chunk_size: settings.chunkSize,
        atomic: settings.output.atomic ? 1 : 0,
        error: null,
        train_cpu_ms: 0,
        peak_rss_mb: 0,
        created_at: at,
        started_at: null,
        finished_at: null,
      },
      trx,
    );
    await this.fleets.insertSegments(
      registryRun.id,
      failures.map(
        (failure): SegmentRecord => ({
          seriesId: failure.seriesId,
          chunk: -1,
          status: "failed",
          reason: failure.reason,
          message: failure.message,
          model: null,
          winner: null,
          version: null,
          gatePassed: null,
          metrics: {},
          stateDigest: null,
          fitMs: 0,
        }),
      ),
      at,
      trx,
    );
    await this.jobs.enqueue(
      chunks.length > 0
        ? chunks.map((payload) => ({
            kind: CHUNK_JOB,
            payload,
            idempotencyKey: `${payload.runId}:chunk:${payload.chunk}`,
            groupId: payload.runId,
            maxAttempts: 5,
          }))
        : [
            {
              kind: FINALIZE_JOB,
              payload: { runId: registryRun.id } satisfies FinalizePayload,
              // The key the runner's own finalize enqueue uses: one finalize job per run.
              idempotencyKey: `${registryRun.id}:finalize`,
              groupId: registryRun.id,
            },
          ],
      trx,
    );
    return { runId: registryRun.id, chunks: chunks.length };
  }

  async run(project: string, fleet: string, runId?: string): Promise<StoredRun> {
    const projectId = await this.projectId(project);
    const run = runId ? await this.fleets.runById(runId) : await this.fleets.latestRun(projectId, fleet);
    if (!run || run.fleet !== fleet || run.project !== project) {
      throw new SkalaError(
        "FLEET_NOT_FOUND",
        runId ? `fleet "${fleet}" has no run "${runId}"` : `fleet "${fleet}" has no runs`,
        {
          project,
          fleet,
        },
      );
    }
    return run;
  }

  async list(
    project: string,
  ): Promise<Array<{ name: string; latestRun: FleetRun | null; updatedAt: string }>> {
    const projectId = await this.projectId(project);
    const fleets = await this.fleets.listFleets(projectId);
    return Promise.all(
      fleets.map(async (f) => {
        const run = await this.fleets.latestRun(projectId, f.name);
        return { name: f.name, latestRun: run ? run : null, updatedAt: f.updated_at };
      }),
    );
  }

  async progress(project: string, fleet: string, runId?: string): Promise<FleetProgress> {
    const run = await this.run(project, fleet, runId);
    const counts = await this.fleets.counts(run.id);
    const done = counts.trained + counts.registered + counts.failed;
    const end = run.finishedAt ? new Date(run.finishedAt).getTime() : this.clock.now().getTime();
    const start = new Date(run.startedAt ?? run.createdAt).getTime();
    const elapsedSeconds = Math.max(0, (end - start) / 1000);
    const rate = elapsedSeconds > 0 ? done / elapsedSeconds : 0;
    const finished = run.status !== "queued" && run.status !== "running";
    return {
      run: run,
      done,
      registered: counts.registered,
      failed: counts.failed,
      rate,
      etaSeconds: finished || rate === 0 ? null : (run.total - done) / rate,
      elapsedSeconds,
    };
  }

  async cancel(project: string, fleet: string, runId?: string): Promise<FleetRun> {
    const run = await this.run(project, fleet, runId);
    await this.runner.endRun(run, "cancelled", "cancelled by request", { cancelJobs: true });
    return await this.run(project, fleet, run.id);
  }

  async report(project: string, fleet: string, runId?: string): Promise<FleetReport> {
    const run = await this.run(project, fleet, runId);
    const segments = await this.fleets.segments(run.id);
    const ok = segments.filter((s) => s.status !== "failed");
    const failed = segments.filter((s) => s.status === "failed");
    const count = <T extends string>(values: T[]) =>
      values.reduce<Record<string, number>>((acc, v) => {
        acc[v] = (acc[v] ?? 0) + 1;
        return acc;
      }, {});
    const metricValues = (prefix: string) => {
      const byMetric = new Map<string, number[]>();
      for (const s of ok) {
        for (const [key, value] of Object.entries(s.metrics)) {
          if (!key.startsWith(prefix) || key.startsWith("holdout_wql_")) continue;
          const name = key.slice(prefix.length);
          byMetric.set(name, [...(byMetric.get(name) ?? []), value]);
        }
      }
      const out: Record<string, Distribution> = {};
      for (const [name, values] of byMetric) {
        const d = distribution(values);
        if (d) out[name] = d;
      }
      return out;
    };
    const wqlLoss = ok.reduce((sum, s) => sum + (s.metrics.holdout_wql_loss ?? 0), 0);
    const wqlScale = ok.reduce((sum, s) => sum + (s.metrics.holdout_wql_scale ?? 0), 0);
    const progress = await this.progress(project, fleet, run.id);
    return {
      fleet,
      run: run,
      segments: {
        total: run.total,
        registered: segments.filter((s) => s.status === "registered").length,
        trained: segments.filter((s) => s.status === "trained").length,
        failed: failed.length,
        passedGate: ok.filter((s) => s.gatePassed).length,
        flagged: ok.filter((s) => s.gatePassed === false).length,
      },
      winners: count(ok.map((s) => s.winner ?? "unknown")),
      failuresByReason: count(failed.map((s) => s.reason ?? "UNKNOWN")),
      validation: metricValues("validation_"),
      holdout: metricValues("holdout_"),
      holdoutWql: wqlScale > 0 ? wqlLoss / wqlScale : null,
      resources: {
        wallSeconds: progress.elapsedSeconds,
        trainCpuSeconds: run.trainCpuMs / 1000,
        segmentsPerSecond: progress.rate,
        peakRssMb: run.peakRssMb,
      },
      failureExamples: failed
        .slice(0, 20)
        .map((s) => ({ seriesId: s.seriesId, reason: s.reason ?? "", message: s.message ?? "" })),
    };
  }
}

/** The report as text for people (the CLI and `?format=text`). */
export function formatReport(report: FleetReport): string {
  const lines: string[] = [];
  const r = report.run;
  lines.push(`Fleet ${report.fleet} — run ${r.id}: ${r.status}${r.error ? ` (${r.error})` : ""}`);
  const s = report.segments;
  lines.push(
    `segments: ${s.total} total, ${s.registered} registered, ${s.failed} failed; ${s.passedGate} passed the gate, ${s.flagged} flagged`,
  );
  const res = report.resources;
  lines.push(
    `time: ${res.wallSeconds.toFixed(1)} s wall, ${res.segmentsPerSecond.toFixed(1)} segments/s, training ${res.trainCpuSeconds.toFixed(1)} s, peak RSS ${res.peakRssMb} MB`,
  );
  const winners = Object.entries(report.winners).sort((a, b) => b[1] - a[1]);
  lines.push(`winners: ${winners.map(([name, n]) => `${name} ${n}`).join(", ") || "none"}`);
  const table = (title: string, metrics: Record<string, Distribution>) => {
    const entries = Object.entries(metrics);
    if (entries.length === 0) return;
    lines.push(`${title} (over segments):   mean      p10      p50      p90`);
    for (const [name, d] of entries) {
      lines.push(
        `  ${name.padEnd(22)} ${d.mean.toFixed(4).padStart(8)} ${d.p10.toFixed(4).padStart(8)} ${d.p50.toFixed(4).padStart(8)} ${d.p90.toFixed(4).padStart(8)}`,
      );
    }
  };
  table("validation", report.validation as Record<string, Distribution>);
  table("holdout", report.holdout);
  if (report.holdoutWql !== null)
    lines.push(`holdout WQL (pooled, as fev computes it): ${report.holdoutWql.toFixed(4)}`);
  const reasons = Object.entries(report.failuresByReason);
  if (reasons.length > 0) {
    lines.push(`failures: ${reasons.map(([reason, n]) => `${reason} ${n}`).join(", ")}`);
    for (const f of report.failureExamples.slice(0, 5))
      lines.push(`  ${f.seriesId}: ${f.reason} — ${f.message}`);
  }
  return lines.join("\n");
}
