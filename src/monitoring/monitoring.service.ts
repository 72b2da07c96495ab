import { SkalaError } from "../core/index.js";
import {
  type FeedbackRow,
  type IngestCounts,
  type IngestKind,
  type IngestProblem,
  type IngestResult,
  MAX_BATCH_ROWS,
  MAX_LISTED_PROBLEMS,
  type PredictionRow,
  type RejectionReason,
} from "./ingest.types.js";
import { parseFeedback, parsePrediction } from "./ingest-validation.js";
import type {
  JoinedFeedback,
  MonitoredModel,
  MonitoringStore,
  PredictionWindow,
  StoredPrediction,
} from "./monitoring-store.js";

/** What an ingestion reports, accepted or refused, for counters outside the store (Prometheus). */
export interface IngestEvent {
  project: string;
  kind: IngestKind;
  accepted: number;
  /** Refused rows per reason; empty for an accepted batch. */
  rejected: Partial<Record<RejectionReason, number>>;
}

export interface MonitoringServiceOptions {
  store: MonitoringStore;
  now?: () => Date;
  /** Predictions older than this are refused as `expired` (they would be pruned at once); 0: no limit. */
  retentionDays?: number;
  /** How far ahead of this server's clock a time may be before it is `future_timestamp`. Default 5 min. */
  maxClockSkewMs?: number;
  onIngest?: (event: IngestEvent) => void;
}

/** Thrown inside the transaction to roll it back; carries the problems out. */
class Refused extends Error {
  constructor(readonly problems: IngestProblem[]) {
    super("refused");
  }
}

const idKey = (modelKey: number, id: string) => `${modelKey}\n${id}`;
const forecastKey = (modelKey: number, segment: string, period: string) =>
  `${modelKey}\n${segment}\n${period}`;

/**
 * Ingestion of predictions and ground truth (README.md, "Predictions and feedback"). A batch is checked as a
 * whole, its rows and against what is stored, inside the transaction that writes it: one problem refuses the
 * batch, nothing of it is stored, every problem is reported (row index, field, reason) and counted per reason.
 *
 * @example
 * const monitoring = new MonitoringService({ store: createKyselyMonitoringStore(store) });
 * await monitoring.ingestPredictions("default", [{ predictionId: "p1", model: "churn", version: 1,
 *   at: "2026-12-01T10:00:00Z", features: [0.3, 4], outputs: [0.82] }]);
 * await monitoring.ingestFeedback("default", [{ model: "churn", predictionId: "p1", actual: 1 }]);
 */
export class MonitoringService {
  private readonly store: MonitoringStore;
  private readonly now: () => Date;
  private readonly retentionMs: number;
  private readonly skewMs: number;
  private readonly listeners = new Set<(event: IngestEvent) => void>();

  constructor(options: MonitoringServiceOptions) {
    this.store = options.store;
    this.now = options.now ?? (() => new Date());
    this.retentionMs = (options.retentionDays ?? 0) * 86_400_000;
    this.skewMs = options.maxClockSkewMs ?? 5 * 60_000;
    if (options.onIngest) this.listeners.add(options.onIngest);
  }

  /** Stores a batch of predictions, or none of it (PREDICTIONS_INVALID with every problem). */
  async ingestPredictions(project: string, batch: readonly unknown[]): Promise<IngestResult> {
    this.checkSize("predictions", batch);
    const now = this.now();
    const problems: IngestProblem[] = [];
    const rows: Array<{ index: number; row: PredictionRow }> = [];
    batch.forEach((raw, index) => {
      const parsed = parsePrediction(raw, index);
      if ("problems" in parsed) problems.push(...parsed.problems);
      else rows.push({ index, row: parsed.value });
    });
    for (const { index, row } of rows) {
      if (row.atMs > now.getTime() + this.skewMs) {
        problems.push({ index, field: "at", reason: "future_timestamp", message: "at is in the future" });
      } else if (this.retentionMs > 0 && row.atMs < now.getTime() - this.retentionMs) {
        problems.push({ index, field: "at", reason: "expired", message: "at is older than the retention" });
      }
    }
    return this.run(project, "predictions", async (tx) => {
      const names = [...new Set(rows.map((r) => r.row.model))];
      const registered = await tx.registeredModels(project, names);
      const known = rows.filter(({ index, row }) => {
        if (registered.has(row.model)) return true;
        problems.push(unknownModel(index, row.model, project));
        return false;
      });
      const models = await tx.monitoredModels(project, [...registered], problems.length === 0);
      // Within the batch: one id per model, one shape per model (the stored one, else the batch's first).
      const seen = new Set<string>();
      const shapes = new Map<string, { features: number; outputs: number }>();
      const keyed: Array<{ index: number; row: PredictionRow; key: number }> = [];
      for (const { index, row } of known) {
        const model = models.get(row.model);
        const key = model?.key ?? -1;
        const id = `${row.model}\n${row.predictionId}`;
        if (seen.has(id)) {
          problems.push({
            index,
            field: "predictionId",
            reason: "duplicate_in_batch",
            message: `prediction id ${JSON.stringify(row.predictionId)} appears earlier in the batch`,
          });
          continue;
        }
        seen.add(id);
        const shape = shapes.get(row.model) ??
          storedShape(model) ?? {
            features: row.features.length,
            outputs: row.outputs.length,
          };
        shapes.set(row.model, shape);
        if (row.features.length !== shape.features || row.outputs.length !== shape.outputs) {
          problems.push({
            index,
            field: row.features.length !== shape.features ? "features" : "outputs",
            reason: "shape_mismatch",
            message: `model ${row.model} has ${shape.features} features and ${shape.outputs} outputs; this row has ${row.features.length} and ${row.outputs.length}`,
          });
          continue;
        }
        keyed.push({ index, row, key });
      }
      const stored = await tx.predictionsById(
        keyed.filter((k) => k.key >= 0).map((k) => [k.key, k.row.predictionId] as const),
      );
      for (const { index, row, key } of keyed) {
        if (stored.has(idKey(key, row.predictionId))) {
          problems.push({
            index,
            field: "predictionId",
            reason: "duplicate",
            message: `prediction ${JSON.stringify(row.predictionId)} of ${row.model} is already stored`,
          });
        }
      }
      if (problems.length > 0) throw new Refused(problems);
      for (const [name, shape] of shapes) {
        const model = models.get(name) as MonitoredModel;
        if (model.features === null) await tx.setShape(model.key, shape.features, shape.outputs);
      }
      await tx.insertPredictions(
        keyed.map(({ row, key }) => ({ ...row, modelKey: key })),
        now,
      );
      return keyed.length;
    });
  }

  /**
   * Stores a batch of ground truth, or none of it (FEEDBACK_INVALID). Late actuals are fine, in any order of
   * arrival; a key (prediction id, or model + segment + period) holds one actual per revision: a second one
   * with the same revision is a `duplicate`, a lower one `stale_revision`; a restatement names a higher one.
   */
  async ingestFeedback(project: string, batch: readonly unknown[]): Promise<IngestResult> {
    this.checkSize("feedback", batch);
    const now = this.now();
    const problems: IngestProblem[] = [];
    const rows: Array<{ index: number; row: FeedbackRow }> = [];
    batch.forEach((raw, index) => {
      const parsed = parseFeedback(raw, index, now.getTime());
      if ("problems" in parsed) problems.push(...parsed.problems);
      else if (parsed.value.atMs > now.getTime() + this.skewMs) {
        problems.push({ index, field: "at", reason: "future_timestamp", message: "at is in the future" });
      } else rows.push({ index, row: parsed.value });
    });
    return this.run(project, "feedback", async (tx) => {
      const names = [...new Set(rows.map((r) => r.row.model))];
      const registered = await tx.registeredModels(project, names);
      const models = await tx.monitoredModels(project, [...registered], false);
      const seen = new Set<string>();
      const keyed: Array<{ index: number; row: FeedbackRow; model: MonitoredModel; key: string }> = [];
      for (const { index, row } of rows) {
        if (!registered.has(row.model)) {
          problems.push(unknownModel(index, row.model, project));
          continue;
        }
        const model = models.get(row.model) ?? { key: -1, features: null, outputs: null };
        const key =
          row.predictionId !== null
            ? idKey(model.key, row.predictionId)
            : forecastKey(model.key, row.segment as string, row.period as string);
        const named = `${row.model}\n${key}`;
        if (seen.has(named)) {
          problems.push({
            index,
            field: row.predictionId !== null ? "predictionId" : "period",
            reason: "duplicate_in_batch",
            message: "an actual for the same prediction appears earlier in the batch",
          });
          continue;
        }
        seen.add(named);
        if (model.outputs !== null && row.actual.length !== model.outputs) {
          problems.push({
            index,
            field: "actual",
            reason: "shape_mismatch",
            message: `model ${row.model} has ${model.outputs} outputs; actual has ${row.actual.length} values`,
          });
          continue;
        }
        keyed.push({ index, row, model, key });
      }
      const byId = keyed.filter((k) => k.row.predictionId !== null);
      const byForecast = keyed.filter((k) => k.row.predictionId === null);
      const predictions = await tx.predictionsById(
        byId.map((k) => [k.model.key, k.row.predictionId as string] as const),
      );
      const forecasts = await tx.forecastKeys(
        byForecast.map((k) => [k.model.key, k.row.segment as string, k.row.period as string] as const),
      );
      const revisions = await tx.feedbackRevisions(
        byId.map((k) => [k.model.key, k.row.predictionId as string] as const),
        byForecast.map((k) => [k.model.key, k.row.segment as string, k.row.period as string] as const),
      );
      const accepted: Array<FeedbackRow & { modelKey: number; prediction: StoredPrediction | null }> = [];
      for (const { index, row, model, key } of keyed) {
        const prediction = row.predictionId !== null ? predictions.get(key) : undefined;
        if (row.predictionId !== null && prediction === undefined) {
          problems.push({
            index,
            field: "predictionId",
            reason: "unknown_prediction",
            message: `no prediction ${JSON.stringify(row.predictionId)} of ${row.model} is stored`,
          });
          continue;
        }
        if (row.predictionId === null && !forecasts.has(key)) {
          problems.push({
            index,
            field: "period",
            reason: "unknown_forecast",
            message: `no forecast of ${row.model} for segment ${JSON.stringify(row.segment)}, period ${JSON.stringify(row.period)} is stored`,
          });
          continue;
        }
        if (prediction !== undefined && row.atMs < prediction.atMs) {
          problems.push({
            index,
            field: "at",
            reason: "before_prediction",
            message: `the actual is dated ${new Date(row.atMs).toISOString()}, before its prediction (${new Date(prediction.atMs).toISOString()})`,
          });
          continue;
        }
        const stored = revisions.get(key);
        if (stored !== undefined && row.revision <= stored) {
          problems.push({
            index,
            field: "revision",
            reason: row.revision === stored ? "duplicate" : "stale_revision",
            message:
              row.revision === stored
                ? `an actual with revision ${stored} is already stored; a restatement names revision ${stored + 1}`
                : `revision ${row.revision} is older than the stored revision ${stored}`,
          });
          continue;
        }
        accepted.push({ ...row, modelKey: model.key, prediction: prediction ?? null });
      }
      if (problems.length > 0) throw new Refused(problems);
      await tx.insertFeedback(accepted, now);
      return accepted.length;
    });
  }

  /** Calls `listener` after every batch, accepted or refused (metrics). Returns the unsubscribe function. */
  subscribe(listener: (event: IngestEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: IngestEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  counts(project: string): Promise<IngestCounts> {
    return this.store.counts(project);
  }

  /** A model's newest predictions (at most `limit`), as arrays, for the checks. */
  recentPredictions(project: string, model: string, limit = 10_000): Promise<PredictionWindow | null> {
    return this.store.recentPredictions(project, model, limit);
  }

  /** A model's ground truth joined to its predictions, the latest revision of each key. */
  joinedFeedback(project: string, model: string, limit = 100_000): Promise<JoinedFeedback[]> {
    return this.store.joinedFeedback(project, model, limit);
  }

  private checkSize(kind: IngestKind, batch: readonly unknown[]): void {
    if (!Array.isArray(batch)) {
      throw new SkalaError("VALIDATION_FAILED", `${kind} must be an array`, {
        issues: [{ path: `/${kind}`, message: "must be an array" }],
      });
    }
    if (batch.length > MAX_BATCH_ROWS) {
      throw new SkalaError(
        "BULK_TOO_LARGE",
        `a batch holds at most ${MAX_BATCH_ROWS} rows; this one ${batch.length}`,
        {
          max: MAX_BATCH_ROWS,
          rows: batch.length,
        },
      );
    }
  }

  /**
   * Runs the batch's checks and writes in one transaction, serialized per project. A refusal rolls it back,
   * is counted in a transaction of its own, and surfaces as PREDICTIONS_INVALID / FEEDBACK_INVALID.
   */
  private async run(
    project: string,
    kind: IngestKind,
    work: (tx: Parameters<Parameters<MonitoringStore["transaction"]>[0]>[0]) => Promise<number>,
  ): Promise<IngestResult> {
    let accepted: number;
    try {
      accepted = await this.store.transaction(async (tx) => {
        await tx.lock(project);
        if (!(await tx.projectExists(project))) {
          throw new SkalaError("PROJECT_NOT_FOUND", `project "${project}" does not exist`, { project });
        }
        const count = await work(tx);
        await tx.addCounts(project, kind, { accepted: count });
        return count;
      });
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      return this.refuse(project, kind, error.problems);
    }
    this.emit({ project, kind, accepted, rejected: {} });
    return { kind, accepted };
  }

  private async refuse(project: string, kind: IngestKind, problems: IngestProblem[]): Promise<never> {
    problems.sort((a, b) => a.index - b.index);
    const reasons: Partial<Record<RejectionReason, number>> = {};
    const rows = new Set<number>();
    for (const problem of problems) {
      reasons[problem.reason] = (reasons[problem.reason] ?? 0) + 1;
      rows.add(problem.index);
    }
    await this.store.addCounts(project, kind, { ...reasons, rejected_batches: 1, rejected_rows: rows.size });
    this.emit({ project, kind, accepted: 0, rejected: reasons });
    const first = problems[0] as IngestProblem;
    throw new SkalaError(
      kind === "predictions" ? "PREDICTIONS_INVALID" : "FEEDBACK_INVALID",
      `${kind} refused, nothing stored: ${problems.length} problem${problems.length === 1 ? "" : "s"} in ${rows.size} row${rows.size === 1 ? "" : "s"}, first row ${first.index}${first.field ? ` (${first.field})` : ""}: ${first.message}`,
      {
        rejectedRows: rows.size,
        reasons,
        problems: problems.slice(0, MAX_LISTED_PROBLEMS),
        ...(problems.length > MAX_LISTED_PROBLEMS && {
          problemsOmitted: problems.length - MAX_LISTED_PROBLEMS,
        }),
      },
    );
  }
}

function storedShape(model: MonitoredModel | undefined): { features: number; outputs: number } | undefined {
  return model && model.features !== null && model.outputs !== null
    ? { features: model.features, outputs: model.outputs }
    : undefined;
}

function unknownModel(index: number, model: string, project: string): IngestProblem {
  return {
    index,
    field: "model",
    reason: "unknown_model",
    message: `model ${JSON.stringify(model)} is not registered in project ${JSON.stringify(project)}`,
  };
}

/**
 * Deletes monitoring's predictions (and the feedback joined to them) older than `retentionDays`, now and every
 * `intervalMs` (timer unref'd); 0 days keeps everything. Returns a stop function that waits for a prune.
 */
export function scheduleMonitoringRetention(options: {
  store: Pick<MonitoringStore, "prune">;
  retentionDays: number;
  intervalMs?: number;
  now?: () => Date;
  onError?: (error: unknown) => void;
}): () => Promise<void> {
  if (options.retentionDays <= 0) return async () => {};
  const now = options.now ?? (() => new Date());
  let running: Promise<void> = Promise.resolve();
  const prune = () => {
    running = running.then(async () => {
      try {
        await options.store.prune(new Date(now().getTime() - options.retentionDays * 86_400_000));
      } catch (error) {
        options.onError?.(error);
      }
    });
  };
  prune();
  const timer = setInterval(prune, options.intervalMs ?? 3_600_000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
