import type { FeedbackRow, IngestCounts, IngestKind, PredictionRow } from "./ingest.types.js";

/**
 * The store monitoring writes predictions and ground truth to, as a port: the service holds the rules, an
 * adapter (monitoring.repository.ts, Kysely over SQLite | PostgreSQL) holds the SQL.
 */
export interface MonitoringStore {
  /** Runs `work` in one transaction: everything written through the handle commits together, or nothing. */
  transaction<T>(work: (tx: MonitoringStoreTx) => Promise<T>): Promise<T>;
  /** Adds to the counters in a transaction of its own (a refused batch's own transaction was rolled back). */
  addCounts(project: string, kind: IngestKind, counts: Readonly<Record<string, number>>): Promise<void>;
  counts(project: string): Promise<IngestCounts>;
  /** A model's most recent predictions, newest first, at most `limit`; null when monitoring has none. */
  recentPredictions(project: string, model: string, limit: number): Promise<PredictionWindow | null>;
  /** Ground truth of a model joined to its predictions, oldest actual first, the latest revision of each key. */
  joinedFeedback(project: string, model: string, limit: number): Promise<JoinedFeedback[]>;
  /** Deletes predictions made before `before` (with their feedback) and feedback observed before it. */
  prune(before: Date): Promise<number>;
}

/** A model monitoring knows: its key, and the feature/output counts its first predictions fixed. */
export interface MonitoredModel {
  key: number;
  features: number | null;
  outputs: number | null;
}

/** Where a stored prediction is, for a join. */
export interface StoredPrediction {
  blockSeq: number;
  row: number;
  atMs: number;
}

export interface MonitoringStoreTx {
  /** Serializes ingestion per project (check-then-insert), until the transaction ends. */
  lock(project: string): Promise<void>;
  projectExists(project: string): Promise<boolean>;
  /** Which of `models` the registry holds in the project. */
  registeredModels(project: string, models: readonly string[]): Promise<Set<string>>;
  /** The monitored models among `models`; with `create`, those missing are added. */
  monitoredModels(
    project: string,
    models: readonly string[],
    create: boolean,
  ): Promise<Map<string, MonitoredModel>>;
  setShape(modelKey: number, features: number, outputs: number): Promise<void>;
  /** Stored predictions by (model key, prediction id); the map's key is `${modelKey}\n${predictionId}`. */
  predictionsById(pairs: ReadonlyArray<readonly [number, string]>): Promise<Map<string, StoredPrediction>>;
  /** Which (model key, segment, period) have a stored forecast; keys `${modelKey}\n${segment}\n${period}`. */
  forecastKeys(triples: ReadonlyArray<readonly [number, string, string]>): Promise<Set<string>>;
  /** The highest stored revision per feedback key, keyed like predictionsById and forecastKeys. */
  feedbackRevisions(
    byId: ReadonlyArray<readonly [number, string]>,
    byForecast: ReadonlyArray<readonly [number, string, string]>,
  ): Promise<Map<string, number>>;
  insertPredictions(
    rows: ReadonlyArray<PredictionRow & { modelKey: number }>,
    receivedAt: Date,
  ): Promise<void>;
  insertFeedback(
    rows: ReadonlyArray<FeedbackRow & { modelKey: number; prediction: StoredPrediction | null }>,
    receivedAt: Date,
  ): Promise<void>;
  addCounts(project: string, kind: IngestKind, counts: Readonly<Record<string, number>>): Promise<void>;
}

/** Recent predictions of one model as arrays: row i's features are `features[i*featureCount … +featureCount]`. */
export interface PredictionWindow {
  rows: number;
  featureCount: number;
  outputCount: number;
  predictionIds: string[];
  versions: Int32Array;
  atMs: Float64Array;
  features: Float32Array;
  outputs: Float64Array;
  segments: Array<readonly [string, string] | null>;
}

/** One actual with the prediction it belongs to (for forecasts: the latest forecast of that segment and period). */
export interface JoinedFeedback {
  predictionId: string | null;
  segment: string | null;
  period: string | null;
  revision: number;
  actual: number[];
  atMs: number;
  version: number;
  predictedAtMs: number;
  outputs: number[];
}
