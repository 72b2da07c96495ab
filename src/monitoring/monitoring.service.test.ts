import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isSkalaError, type SkalaError } from "../core/index.js";
import type { Store } from "../store/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { failWrites, rowCounts } from "../store/test-support/faults.js";
import {
  createKyselyMonitoringStore,
  type IngestEvent,
  MonitoringService,
  type RejectionReason,
} from "./index.js";

const NOW = new Date("2026-12-03T12:00:00.000Z");
const TABLES = [
  "monitor_models",
  "monitor_prediction_blocks",
  "monitor_prediction_ids",
  "monitor_forecast_keys",
  "monitor_feedback",
];

/** Registers projects and models the way the registry stores them (monitoring may not import the registry). */
async function register(store: Store, project: string, models: string[]): Promise<void> {
  const at = NOW.toISOString();
  const existing = await store.db
    .selectFrom("projects")
    .select("id")
    .where("name", "=", project)
    .executeTakeFirst();
  const projectId = existing?.id ?? `prj_${project}`;
  if (!existing) {
    await store.db
      .insertInto("projects")
      .values({ id: projectId, name: project, description: "", created_at: at })
      .execute();
  }
  for (const name of models) {
    await store.db
      .insertInto("registered_models")
      .values({
        id: `mdl_${project}_${name}`,
        project_id: projectId,
        name,
        description: "",
        fleet: null,
        latest_version: 1,
        archived_at: null,
        created_at: at,
        updated_at: at,
      })
      .execute();
  }
}

function prediction(id: string, overrides: Record<string, unknown> = {}) {
  return {
    predictionId: id,
    model: "churn",
    version: 1,
    at: "2026-12-03T10:00:00Z",
    features: [0.5, 1.5, -2],
    outputs: [0.25],
    ...overrides,
  };
}

function forecast(segment: string, period: string, value: number, overrides: Record<string, unknown> = {}) {
  return {
    predictionId: `${segment}:${period}:${overrides.version ?? 1}`,
    model: "demand",
    version: 1,
    at: "2026-12-01T00:00:00Z",
    segment,
    period,
    features: [1],
    outputs: [value, value - 2, value + 2],
    ...overrides,
  };
}

async function refusal(promise: Promise<unknown>): Promise<SkalaError> {
  try {
    await promise;
  } catch (error) {
    if (isSkalaError(error)) return error;
    throw error;
  }
  throw new Error("expected the batch to be refused");
}

function reasonsOf(error: SkalaError): Array<[number, RejectionReason]> {
  const problems = (error.details?.problems ?? []) as Array<{ index: number; reason: RejectionReason }>;
  return problems.map((p) => [p.index, p.reason]);
}

describe.each(testDialects())("monitoring ingestion on %s", (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;
  let monitoring: MonitoringService;
  const events: IngestEvent[] = [];

  beforeAll(async () => {
    ({ store, dispose } = await freshStore(dialect));
  });
  afterAll(() => dispose());

  beforeEach(async () => {
    for (const table of [...TABLES].reverse()) {
      await store.db.deleteFrom(table as "monitor_models").execute();
    }
    await store.db.deleteFrom("monitor_ingest_counts").execute();
    await store.db.deleteFrom("registered_models").execute();
    await store.db.deleteFrom("projects").execute();
    await register(store, "default", ["churn", "demand", "other"]);
    events.length = 0;
    monitoring = new MonitoringService({
      store: createKyselyMonitoringStore(store),
      now: () => NOW,
      retentionDays: 30,
      onIngest: (event) => events.push(event),
    });
  });

  it("stores a valid batch as blocks and reads it back newest first", async () => {
    const result = await monitoring.ingestPredictions("default", [
      prediction("p1", { at: "2026-12-03T09:00:00Z", features: [1, 2, 3] }),
      prediction("p2", { at: "2026-12-03T11:00:00Z", features: [4, 5, 6.5] }),
      prediction("p3", { version: 2, at: "2026-12-03T10:00:00Z", features: [7, 8, 9], outputs: [0.75] }),
      forecast("A12", "2027-01", 10),
    ]);
    expect(result).toEqual({ kind: "predictions", accepted: 4 });
    const counts = await rowCounts(store, TABLES);
    // churn v1, churn v2, demand v1: three blocks for four predictions.
    expect(counts).toMatchObject({
      monitor_prediction_blocks: 3,
      monitor_prediction_ids: 4,
      monitor_forecast_keys: 1,
    });
    const window = await monitoring.recentPredictions("default", "churn", 10);
    expect(window?.predictionIds).toEqual(["p2", "p3", "p1"]);
    expect([...(window?.versions ?? [])]).toEqual([1, 2, 1]);
    expect([...(window?.features ?? [])]).toEqual([4, 5, 6.5, 7, 8, 9, 1, 2, 3]);
    expect([...(window?.outputs ?? [])]).toEqual([0.25, 0.75, 0.25]);
    expect((await monitoring.recentPredictions("default", "churn", 2))?.predictionIds).toEqual(["p2", "p3"]);
    expect(await monitoring.counts("default")).toMatchObject({ predictions: { accepted: 4 } });
    expect(events).toEqual([{ project: "default", kind: "predictions", accepted: 4, rejected: {} }]);
  });

  it("joins late feedback by prediction id and forecasts by model, segment and period", async () => {
    await monitoring.ingestPredictions("default", [
      prediction("p1", { outputs: [0.9] }),
      prediction("p2", { outputs: [0.1] }),
      forecast("A12", "2027-01", 10),
      forecast("B7", "2027-01", 3),
    ]);
    // Ground truth arrives later, in two batches, in any order.
    await monitoring.ingestFeedback("default", [
      { model: "churn", predictionId: "p2", actual: 0, at: "2026-12-03T11:30:00Z" },
    ]);
    await monitoring.ingestFeedback("default", [
      { model: "demand", segment: "A12", period: "2027-01", actual: [12, 12, 12] },
      { model: "churn", predictionId: "p1", actual: [1] },
    ]);
    const churn = await monitoring.joinedFeedback("default", "churn");
    expect(churn.map((j) => [j.predictionId, j.actual, j.outputs, j.version])).toEqual([
      ["p2", [0], [0.1], 1],
      ["p1", [1], [0.9], 1],
    ]);
    expect(churn[0]?.predictedAtMs).toBe(Date.parse("2026-12-03T10:00:00Z"));
    const demand = await monitoring.joinedFeedback("default", "demand");
    expect(demand.map((j) => [j.segment, j.period, j.actual, j.outputs])).toEqual([
      ["A12", "2027-01", [12, 12, 12], [10, 8, 12]],
    ]);
    expect(await monitoring.counts("default")).toMatchObject({ feedback: { accepted: 3 } });
  });

  it("takes a restatement with a higher revision, and joins its latest", async () => {
    await monitoring.ingestPredictions("default", [forecast("A12", "2027-01", 10)]);
    const key = { model: "demand", segment: "A12", period: "2027-01" };
    await monitoring.ingestFeedback("default", [{ ...key, actual: [9, 9, 9] }]);
    const duplicate = await refusal(monitoring.ingestFeedback("default", [{ ...key, actual: [9, 9, 9] }]));
    expect(reasonsOf(duplicate)).toEqual([[0, "duplicate"]]);
    await monitoring.ingestFeedback("default", [{ ...key, actual: [11, 11, 11], revision: 2 }]);
    const stale = await refusal(
      monitoring.ingestFeedback("default", [{ ...key, actual: [1, 1, 1], revision: 1 }]),
    );
    expect(reasonsOf(stale)).toEqual([[0, "stale_revision"]]);
    const joined = await monitoring.joinedFeedback("default", "demand");
    expect(joined.map((j) => [j.revision, j.actual])).toEqual([[2, [11, 11, 11]]]);
  });

  it("refuses every malformed prediction with its row index and reason, and stores nothing of the batch", async () => {
    await monitoring.ingestPredictions("default", [prediction("stored")]);
    const before = await rowCounts(store, TABLES);
    const error = await refusal(
      monitoring.ingestPredictions("default", [
        prediction("ok-1"),
        prediction("p-nan", { features: [1, "NaN", 2] }),
        prediction("p-type", { version: "1" }),
        prediction("p-model", { model: "nobody" }),
        prediction("stored"),
        prediction("ok-1"),
        prediction("p-shape", { features: [1, 2] }),
        prediction("p-future", { at: "2026-12-04T00:00:00Z" }),
        prediction("p-old", { at: "2026-10-01T00:00:00Z" }),
        prediction("p-inf", { outputs: [Number.POSITIVE_INFINITY] }),
        "not an object",
        prediction("p-extra", { colour: "red" }),
        prediction("p-seg", { segment: "A12" }),
      ]),
    );
    expect(error.code).toBe("PREDICTIONS_INVALID");
    expect(reasonsOf(error)).toEqual([
      [1, "not_finite"],
      [2, "invalid_type"],
      [3, "unknown_model"],
      [4, "duplicate"],
      [5, "duplicate_in_batch"],
      [6, "shape_mismatch"],
      [7, "future_timestamp"],
      [8, "expired"],
      [9, "not_finite"],
      [10, "invalid_type"],
      [11, "invalid_type"],
      [12, "invalid_type"],
    ]);
    expect(error.details).toMatchObject({
      rejectedRows: 12,
      reasons: { not_finite: 2, invalid_type: 4, duplicate: 1, duplicate_in_batch: 1, unknown_model: 1 },
    });
    expect(await rowCounts(store, TABLES)).toEqual(before);
    expect((await monitoring.recentPredictions("default", "churn", 10))?.predictionIds).toEqual(["stored"]);
    const counts = await monitoring.counts("default");
    expect(counts.predictions).toMatchObject({
      accepted: 1,
      rejected_batches: 1,
      rejected_rows: 12,
      not_finite: 2,
    });
    expect(events.at(-1)).toMatchObject({ kind: "predictions", accepted: 0, rejected: { unknown_model: 1 } });
  });

  it("refuses every kind of bad feedback, and stores nothing of the batch", async () => {
    await monitoring.ingestPredictions("default", [
      prediction("p1", { at: "2026-12-03T10:00:00Z" }),
      prediction("p2"),
      prediction("p3"),
      forecast("A12", "2027-01", 10),
    ]);
    await monitoring.ingestFeedback("default", [{ model: "churn", predictionId: "p3", actual: 1 }]);
    const before = await rowCounts(store, TABLES);
    const error = await refusal(
      monitoring.ingestFeedback("default", [
        { model: "churn", predictionId: "p1", actual: 1 },
        { model: "churn", predictionId: "missing", actual: 1 },
        { model: "churn", predictionId: "p2", actual: 1 },
        { model: "churn", predictionId: "p2", actual: 0 },
        { model: "churn", predictionId: "p3", actual: 0 },
        { model: "churn", predictionId: "p1", actual: "NaN" },
        { model: "churn", predictionId: "p1", actual: "one" },
        { model: "nobody", predictionId: "p1", actual: 1 },
        { model: "demand", segment: "A12", period: "2031-01", actual: [1, 1, 1] },
        { model: "demand", segment: "A12", period: "2027-01", actual: [1] },
        { model: "other", predictionId: "p1", actual: 1 },
        { model: "churn", predictionId: "p1", actual: 1, at: "2026-12-03T09:00:00Z", revision: 1 },
        { model: "churn", predictionId: "p1", actual: 1, at: "2026-12-05T09:00:00Z" },
        { model: "churn", actual: 1 },
      ]),
    );
    expect(error.code).toBe("FEEDBACK_INVALID");
    expect(reasonsOf(error)).toEqual([
      [1, "unknown_prediction"],
      [3, "duplicate_in_batch"],
      [4, "duplicate"],
      [5, "not_finite"],
      [6, "invalid_type"],
      [7, "unknown_model"],
      [8, "unknown_forecast"],
      [9, "shape_mismatch"],
      [10, "unknown_prediction"],
      [11, "duplicate_in_batch"],
      [12, "future_timestamp"],
      [13, "invalid_type"],
    ]);
    expect(await rowCounts(store, TABLES)).toEqual(before);
    // The same rows without the bad ones go in; an actual dated before its prediction is out of order.
    const early = await refusal(
      monitoring.ingestFeedback("default", [
        { model: "churn", predictionId: "p1", actual: 1, at: "2026-12-03T09:00:00Z" },
      ]),
    );
    expect(reasonsOf(early)).toEqual([[0, "before_prediction"]]);
    await monitoring.ingestFeedback("default", [
      { model: "churn", predictionId: "p1", actual: 1 },
      { model: "churn", predictionId: "p2", actual: 1 },
    ]);
    expect((await monitoring.joinedFeedback("default", "churn")).length).toBe(3);
    expect((await monitoring.counts("default")).feedback).toMatchObject({
      accepted: 3,
      rejected_batches: 2,
      unknown_prediction: 2,
      before_prediction: 1,
    });
  });

  it("refuses a duplicate prediction id across batches, and takes the same id for another model", async () => {
    await monitoring.ingestPredictions("default", [prediction("p1")]);
    const error = await refusal(
      monitoring.ingestPredictions("default", [prediction("p2"), prediction("p1")]),
    );
    expect(reasonsOf(error)).toEqual([[1, "duplicate"]]);
    await monitoring.ingestPredictions("default", [prediction("p1", { model: "other" })]);
    expect((await monitoring.recentPredictions("default", "churn", 10))?.predictionIds).toEqual(["p1"]);
  });

  it("stores nothing of a batch whose write fails half way", async () => {
    const fault = await failWrites(store, "monitor_prediction_ids");
    try {
      await expect(
        monitoring.ingestPredictions("default", [prediction("p1"), prediction("p2")]),
      ).rejects.toThrow();
    } finally {
      await fault.remove();
    }
    expect(await rowCounts(store, TABLES)).toMatchObject({ monitor_models: 0, monitor_prediction_blocks: 0 });
  });

  it("refuses an unknown project", async () => {
    const error = await refusal(monitoring.ingestPredictions("nowhere", [prediction("p1")]));
    expect(error.code).toBe("PROJECT_NOT_FOUND");
  });

  it("prunes predictions past the cutoff with their ids and feedback", async () => {
    await monitoring.ingestPredictions("default", [prediction("old", { at: "2026-11-10T00:00:00Z" })]);
    await monitoring.ingestPredictions("default", [prediction("new", { at: "2026-12-03T00:00:00Z" })]);
    await monitoring.ingestFeedback("default", [{ model: "churn", predictionId: "old", actual: 1 }]);
    const deleted = await createKyselyMonitoringStore(store).prune(new Date("2026-11-20T00:00:00Z"));
    expect(deleted).toBe(1);
    expect(await rowCounts(store, TABLES)).toMatchObject({
      monitor_prediction_blocks: 1,
      monitor_prediction_ids: 1,
      monitor_feedback: 0,
    });
    // The pruned id is unknown now, so its actual is refused rather than stored without a prediction.
    const error = await refusal(
      monitoring.ingestFeedback("default", [{ model: "churn", predictionId: "old", actual: 0, revision: 1 }]),
    );
    expect(reasonsOf(error)).toEqual([[0, "unknown_prediction"]]);
  });
});
