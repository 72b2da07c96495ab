import { createHash } from "node:crypto";
import type { Digest } from "../artifacts/index.js";
import { type Clock, SkalaError } from "../core/index.js";
import { WQL_LEVELS } from "../forecasting/index.js";
import type { JobContext, JobQueue } from "../jobs/index.js";
import type { Registry, Run } from "../registry/index.js";
import { type Executor, inTransaction } from "../store/index.js";
import { FleetRepository, type SegmentRecord, type StoredRun } from "./fleet.repository.js";
import type { FleetRunStatus } from "./fleet.types.js";
import { type FleetRunSettings, modelNameFor } from "./fleet-settings.js";
import type { SegmentPlan } from "./segment-plan.js";
import type { SegmentOutcome, SegmentSuccess } from "./segment-trainer.js";
import { type LoadedSeries, loadSeries } from "./series-loader.js";
import type { TrainingPool } from "./training-pool.js";

export const CHUNK_JOB = "fleet.chunk";
export const FINALIZE_JOB = "fleet.finalize";

export interface ChunkPayload {
  runId: string;
  chunk: number;
  seriesIds: string[];
}

export interface FinalizePayload {
  runId: string;
}

/** How a fleet run's end reads on its registry run. */
const REGISTRY_STATUS = {
  succeeded: "finished",
  failed: "failed",
  cancelled: "killed",
} as const satisfies Record<Exclude<FleetRunStatus, "queued" | "running">, Exclude<Run["status"], "running">>;

/** Runs a fleet's jobs: trains chunks of segments on the training threads and registers the results. */
export class FleetRunner {
  private readonly fleets: FleetRepository;
  /** Parsed datasets by digest and loader settings: every chunk of a run reads the same file. */
  private readonly datasets = new Map<string, Promise<LoadedSeries>>();

  constructor(
    private readonly db: Executor,
    private readonly registry: Registry,
    private readonly jobs: JobQueue,
    private readonly training: TrainingPool,
    private readonly clock: Clock,
  ) {
    this.fleets = new FleetRepository(db);
  }

  /** Loads (once per process) the run's dataset with the run's loader settings. */
  dataset(digest: string, settings: FleetRunSettings): Promise<LoadedSeries> {
    const key = `${digest}|${JSON.stringify(settings.loader)}`;
    let loading = this.datasets.get(key);
    if (!loading) {
      loading = this.registry.artifacts
        .open(digest as Digest)
        .then(({ body }) =>
          loadSeries(body, { ...settings.loader, fileName: `dataset ${digest.slice(0, 19)}` }),
        );
      loading.catch(() => this.datasets.delete(key));
      if (this.datasets.size >= 4) this.datasets.delete(this.datasets.keys().next().value as string);
      this.datasets.set(key, loading);
    }
    return loading;
  }

  async runChunk(payload: ChunkPayload, context: JobContext): Promise<{ trained: number; skipped: number }> {
    const run = await this.activeRun(payload.runId);
    if (!run) return { trained: 0, skipped: payload.seriesIds.length };
    const settings = JSON.parse(run.spec) as FleetRunSettings;
    const plan = JSON.parse(run.plan) as SegmentPlan;
    // A retried chunk (crash, lost lease) skips the segments it already recorded: none is trained twice.
    const done = await this.fleets.segmentIds(run.id, payload.seriesIds);
    const pending = payload.seriesIds.filter((id) => !done.has(id));
    if (pending.length > 0) {
      const data = await this.dataset(run.datasetDigest, settings);
      const segments = pending.map((seriesId) => {
        const values = data.series.get(seriesId);
        if (!values) throw new SkalaError("INTERNAL", `series ${seriesId} is missing from the dataset`);
        return { seriesId, values };
      });
      // A cancelled job (or a stopping pool) aborts the training mid-chunk: its thread is terminated.
      const outcomes = await this.training.train({ plan, segments }, context.signal);
      if (context.signal.aborted) return { trained: 0, skipped: pending.length };
      await this.record(run, settings, plan, payload.chunk, outcomes);
    }
    // After the commit: of chunks recording at once, the last to commit sees every segment.
    await this.maybeFinalize(run);
    return { trained: pending.length, skipped: done.size };
  }

  private async activeRun(runId: string): Promise<StoredRun | undefined> {
    const run = await this.fleets.runById(runId);
    if (!run || run.status === "cancelled" || run.status === "failed" || run.status === "succeeded")
      return undefined;
    if (run.status === "queued") await this.fleets.markStarted(runId, this.clock.now().toISOString());
    return run;
  }

  private async record(
    run: StoredRun,
    settings: FleetRunSettings,
    plan: SegmentPlan,
    chunk: number,
    outcomes: SegmentOutcome[],
  ): Promise<void> {
    const at = this.clock.now().toISOString();
    const records: SegmentRecord[] = outcomes.map((outcome) => segmentRecord(settings, chunk, outcome));
    const successes = outcomes.filter((o): o is SegmentSuccess => o.ok);
    // Fitting is CPU-bound on its thread, so the summed fitting time is the training's CPU time. Counted with
    // the segments, in their transaction: a retried chunk, which skips them, does not count them again.
    const trainMs = successes.reduce((sum, o) => sum + o.fitMs, 0);
    const rssMb = Math.round(process.memoryUsage.rss() / 1_048_576);
    const insert = async (trx: Executor) => {
      await this.fleets.insertSegments(run.id, records, at, trx);
      await this.fleets.addResources(run.id, trainMs, rssMb, trx);
    };
    if (!settings.output.register || run.atomic || successes.length === 0) {
      // Atomic runs keep trained states as blobs until every segment is in; finalize registers them at once.
      if (run.atomic) {
        for (const [index, outcome] of outcomes.entries()) {
          if (!outcome.ok) continue;
          // The pending registration, complete: finalize registers it as is, without the outcome at hand.
          const { artifact: _inline, ...version } = versionInput(run, settings, plan, outcome);
          const pending: PendingRegistration = { artifact: artifactOf(outcome, plan), version };
          const stored = await this.registry.artifacts.upload(Buffer.from(JSON.stringify(pending)));
          (records[index] as SegmentRecord).stateDigest = stored.digest;
        }
      }
      await inTransaction(this.db, insert);
      return;
    }
    const bySeries = new Map(records.map((r) => [r.seriesId, r]));
    await this.registry.versions.bulkRegister(
      run.project,
      { createModels: true, versions: successes.map((s) => versionInput(run, settings, plan, s)) },
      {
        maxVersions: Number.MAX_SAFE_INTEGER,
        inTransaction: async (trx, registered) => {
          registered.forEach((version, index) => {
            const record = bySeries.get((successes[index] as SegmentSuccess).seriesId) as SegmentRecord;
            record.status = "registered";
            record.version = version.version;
            record.stateDigest = version.digest;
          });
          await insert(trx);
        },
      },
    );
  }

  /** Enqueues the run's finalize job once every segment is recorded (idempotent: many chunks may see it). */
  private async maybeFinalize(run: StoredRun): Promise<void> {
    const counts = await this.fleets.counts(run.id);
    if (counts.trained + counts.registered + counts.failed < run.total) return;
    await this.jobs.enqueue([
      {
        kind: FINALIZE_JOB,
        payload: { runId: run.id } satisfies FinalizePayload,
        idempotencyKey: `${run.id}:finalize`,
        groupId: run.id,
      },
    ]);
  }

  /** Ends a run as failed (a job gave up); its registry run is marked failed too. */
  async failRun(runId: string, message: string): Promise<void> {
    const run = await this.fleets.runById(runId);
    if (run) await this.endRun(run, "failed", message, { cancelJobs: true });
  }

  /**
   * Ends a run unless it has ended already (false then), in one transaction: the fleet run's status, its
   * summary metrics, with `cancelJobs` the cancellation of its remaining jobs, and the end of its registry run.
   */
  async endRun(
    run: StoredRun,
    status: keyof typeof REGISTRY_STATUS,
    error: string | null,
    options: { metrics?: Record<string, number>; cancelJobs?: boolean } = {},
  ): Promise<boolean> {
    const metrics = options.metrics ?? {};
    return inTransaction(this.db, async (trx) => {
      if (!(await this.fleets.finishRun(run.id, status, this.clock.now().toISOString(), error, trx))) {
        return false;
      }
      if (options.cancelJobs) await this.jobs.cancelGroup(run.id, trx);
      const registryRun = await this.registry.runs.get(run.project, run.id, trx);
      // A registry run someone finished through the API keeps its end.
      if (registryRun.status !== "running") return true;
      if (Object.keys(metrics).length > 0) {
        await this.registry.runs.logMetrics(
          run.project,
          run.id,
          { metrics: Object.entries(metrics).map(([key, value]) => ({ key, value })) },
          trx,
        );
      }
      await this.registry.runs.finish(run.project, run.id, REGISTRY_STATUS[status], trx);
      return true;
    });
  }

  async finalize(payload: FinalizePayload): Promise<{ status: string }> {
    const run = await this.activeRun(payload.runId);
    if (!run) return { status: "already finished" };
    const settings = JSON.parse(run.spec) as FleetRunSettings;
    if (run.atomic && settings.output.register) {
      const counts = await this.fleets.counts(run.id);
      if (counts.failed > 0) {
        const message = `all-or-nothing fleet: ${counts.failed} of ${run.total} segments failed, nothing was registered`;
        await this.endRun(run, "failed", message);
        return { status: "failed" };
      }
      const trained = await this.fleets.segments(run.id, "trained");
      const versions = [];
      for (const segment of trained) {
        const pending = JSON.parse(
          (await this.registry.artifacts.read(segment.stateDigest as Digest)).toString("utf8"),
        ) as PendingRegistration;
        versions.push({ ...pending.version, artifact: { json: pending.artifact as unknown } });
      }
      await this.registry.versions.bulkRegister(
        run.project,
        { createModels: true, versions },
        {
          maxVersions: Number.MAX_SAFE_INTEGER,
          inTransaction: async (trx, registered) => {
            await this.fleets.markRegistered(
              run.id,
              registered.map((r, index) => ({
                seriesId: (trained[index] as SegmentRecord).seriesId,
                version: r.version,
              })),
              trx,
            );
          },
        },
      );
    }
    const metrics = await summaryMetrics(this.fleets, run.id);
    const ended = await this.endRun(run, "succeeded", null, { metrics });
    return { status: ended ? "succeeded" : "already finished" };
  }
}

/** What an all-or-nothing run keeps per trained segment until finalize registers them all. */
interface PendingRegistration {
  artifact: ReturnType<typeof artifactOf>;
  version: Omit<ReturnType<typeof versionInput>, "artifact">;
}

function artifactOf(outcome: SegmentSuccess, plan: SegmentPlan) {
  return {
    format: "skala.forecast/v1",
    state: outcome.state,
    horizon: plan.horizon,
    period: plan.period,
    quantiles: plan.quantiles,
  };
}

function segmentRecord(settings: FleetRunSettings, chunk: number, outcome: SegmentOutcome): SegmentRecord {
  if (!outcome.ok) {
    return {
      seriesId: outcome.seriesId,
      chunk,
      status: "failed",
      reason: outcome.reason,
      message: outcome.message,
      model: null,
      winner: null,
      version: null,
      gatePassed: null,
      metrics: {},
      stateDigest: null,
      fitMs: 0,
    };
  }
  return {
    seriesId: outcome.seriesId,
    chunk,
    status: "trained",
    reason: null,
    message: null,
    model: modelNameFor(settings.fleet, outcome.seriesId),
    winner: outcome.winner,
    version: null,
    gatePassed: outcome.gate.passed,
    metrics: segmentMetrics(outcome),
    stateDigest: null,
    fitMs: outcome.fitMs,
  };
}

/** Finite numbers only: JSON has no NaN, and a missing metric reads better than a fake zero. */
function finiteEntries(prefix: string, values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, v]) => Number.isFinite(v))
      .map(([k, v]) => [`${prefix}${k}`, v]),
  );
}

function segmentMetrics(outcome: SegmentSuccess): Record<string, number> {
  const metrics: Record<string, number> = {
    ...finiteEntries("validation_", outcome.validation[outcome.winner] ?? {}),
    gate_improvement_pct: outcome.gate.improvementPct,
  };
  if (outcome.holdout) {
    Object.assign(metrics, finiteEntries("holdout_", outcome.holdout.metrics));
    // The pooled WQL needs each series' numerator and denominator (fev sums them over series).
    let loss = 0;
    for (const level of WQL_LEVELS) {
      const q = outcome.holdout.quantiles[String(level)] ?? [];
      outcome.holdout.actuals.forEach((actual, h) => {
        const forecast = q[h] ?? 0;
        loss += 2 * (actual >= forecast ? level * (actual - forecast) : (1 - level) * (forecast - actual));
      });
    }
    metrics.holdout_wql_loss = loss;
    metrics.holdout_wql_scale =
      outcome.holdout.actuals.reduce((sum, a) => sum + Math.abs(a), 0) * WQL_LEVELS.length;
  }
  return Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
}

function versionInput(
  run: StoredRun,
  settings: FleetRunSettings,
  plan: SegmentPlan,
  outcome: SegmentSuccess,
) {
  const metrics = segmentMetrics(outcome);
  delete metrics.holdout_wql_loss;
  delete metrics.holdout_wql_scale;
  return {
    model: modelNameFor(settings.fleet, outcome.seriesId),
    fleet: settings.fleet,
    runtime: "skala.forecast",
    artifact: { json: artifactOf(outcome, plan) as unknown },
    signature: {
      inputs: [
        { name: "horizon", datatype: "INT32" as const, shape: [1] },
        { name: "history", datatype: "FP64" as const, shape: [-1] },
      ],
      outputs: [
        { name: "mean", datatype: "FP64" as const, shape: [-1] },
        { name: "quantiles", datatype: "FP64" as const, shape: [-1, plan.quantiles.length] },
      ],
    },
    params: {
      method: outcome.method,
      candidate: outcome.winner,
      model: outcome.label,
      selected_by: outcome.selectedBy,
    },
    metrics,
    tags: {
      fleet: settings.fleet,
      segment: outcome.seriesId.slice(0, 5_000),
      fleet_run: run.id,
      gate: outcome.gate.passed ? "passed" : "failed",
    },
    status: outcome.gate.passed ? ("ready" as const) : ("flagged" as const),
    description: `${outcome.label} for segment ${outcome.seriesId.slice(0, 200)} of fleet ${settings.fleet}`,
    lineage: { datasetVersionId: run.datasetVersionId, runId: run.id, sourceRef: `fleet:${settings.fleet}` },
    ...(outcome.gate.passed && settings.output.champion && { aliases: ["champion"] }),
  };
}

/** Fleet-level metrics logged on the run: means over segments of the winners' scores, and the pooled WQL. */
async function summaryMetrics(fleets: FleetRepository, runId: string): Promise<Record<string, number>> {
  const segments = (await fleets.segments(runId)).filter((s) => s.status !== "failed");
  const sums = new Map<string, { sum: number; n: number }>();
  for (const segment of segments) {
    for (const [key, value] of Object.entries(segment.metrics)) {
      const entry = sums.get(key) ?? { sum: 0, n: 0 };
      entry.sum += value;
      entry.n++;
      sums.set(key, entry);
    }
  }
  const summary: Record<string, number> = {};
  for (const [key, { sum, n }] of sums) {
    if (key === "holdout_wql_loss" || key === "holdout_wql_scale") continue;
    summary[`mean_${key}`] = sum / n;
  }
  const loss = sums.get("holdout_wql_loss")?.sum;
  const scale = sums.get("holdout_wql_scale")?.sum;
  if (loss !== undefined && scale) summary.holdout_wql = loss / scale;
  return summary;
}

/** The run's idempotency key: the same spec over the same data is the same run (resubmitting resumes it). */
export function runKey(
  projectId: string,
  settings: FleetRunSettings,
  plan: SegmentPlan,
  datasetDigest: string,
): string {
  return createHash("sha256")
    .update(JSON.stringify([projectId, settings, plan, datasetDigest]))
    .digest("hex");
}
