import type { Generated } from "kysely";

/**
 * Table types shared by both dialects. Timestamps are ISO-8601 UTC strings (they sort as text in both
 * databases); JSON documents are text; booleans are 0/1 integers. Integers stay within 2^31 so that
 * `pg` returns numbers, not strings.
 */
export interface ProjectsTable {
  id: string;
  name: string;
  description: string;
  created_at: string;
}

export interface EnvironmentsTable {
  id: string;
  project_id: string;
  name: string;
  created_at: string;
}

export interface RegisteredModelsTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  fleet: string | null;
  latest_version: number;
  archived_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ModelTagsTable {
  model_id: string;
  key: string;
  value: string;
}

export interface ModelVersionsTable {
  id: string;
  model_id: string;
  version: number;
  runtime: string;
  artifact_digest: string;
  artifact_size: number;
  signature: string;
  status: string;
  description: string;
  run_id: string | null;
  dataset_version_id: string | null;
  parent_version_id: string | null;
  source_ref: string | null;
  created_at: string;
}

export interface VersionKeyValueTable {
  version_id: string;
  key: string;
  value: string;
}

export interface VersionMetricsTable {
  version_id: string;
  key: string;
  value: number;
}

export interface AliasesTable {
  model_id: string;
  alias: string;
  version_id: string;
  updated_at: string;
}

export interface AliasHistoryTable {
  seq: Generated<number>;
  model_id: string;
  alias: string;
  from_version_id: string | null;
  to_version_id: string | null;
  changed_at: string;
  reason: string;
}

export interface RunsTable {
  id: string;
  project_id: string;
  name: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  source_ref: string | null;
}

export interface RunParamsTable {
  run_id: string;
  key: string;
  value: string;
}

export interface RunMetricsTable {
  seq: Generated<number>;
  run_id: string;
  key: string;
  value: number;
  step: number;
  timestamp: string;
}

export interface RunArtifactsTable {
  run_id: string;
  name: string;
  digest: string;
  size: number;
  created_at: string;
}

export interface DatasetsTable {
  id: string;
  project_id: string;
  name: string;
  latest_version: number;
  created_at: string;
}

export interface DatasetVersionsTable {
  id: string;
  dataset_id: string;
  version: number;
  digest: string;
  size: number;
  format: string;
  rows: number;
  schema: string;
  created_at: string;
}

export interface BlobsTable {
  digest: string;
  size: number;
  created_at: string;
}

/** One durable job (src/jobs). `payload` and `result` are JSON text; `status` is a JobStatus. */
export interface JobsTable {
  seq: Generated<number>;
  id: string;
  kind: string;
  idempotency_key: string | null;
  group_id: string | null;
  payload: string;
  status: string;
  attempts: number;
  max_attempts: number;
  run_after: string;
  lease_owner: string | null;
  lease_expires_at: string | null;
  heartbeat_at: string | null;
  result: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** JSON the running attempt reports about itself (JobContext.progress); null before any report. */
  progress: string | null;
}

export interface FleetsTable {
  id: string;
  project_id: string;
  name: string;
  spec: string;
  created_at: string;
  updated_at: string;
}

export interface FleetRunsTable {
  id: string;
  fleet_id: string;
  status: string;
  idempotency_key: string;
  /** Run settings (FleetRunSettings) as JSON. */
  spec: string;
  /** SegmentPlan as JSON. */
  plan: string;
  dataset_version_id: string;
  dataset_digest: string;
  total: number;
  chunk_size: number;
  atomic: number;
  error: string | null;
  train_cpu_ms: number;
  peak_rss_mb: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface FleetSegmentsTable {
  run_id: string;
  series_id: string;
  chunk: number;
  status: string;
  reason: string | null;
  message: string | null;
  model: string | null;
  winner: string | null;
  version: number | null;
  gate_passed: number | null;
  metrics: string;
  state_digest: string | null;
  fit_ms: number;
  created_at: string;
}

export interface DeploymentsTable {
  id: string;
  environment_id: string;
  model_id: string;
  /** DeploymentRoute[] as JSON: `[{target, weight}]`, weights summing to 100. */
  routes: string;
  /** The alias or version number a copy of each request goes to; its answer is logged, never returned. */
  shadow: string | null;
  /** Pin the route targets in the model cache (never evicted). */
  pinned: number;
  created_at: string;
  updated_at: string;
}

export interface PredictionLogTable {
  seq: Generated<number>;
  project: string;
  model: string;
  version: number;
  version_id: string;
  /** How the version was chosen: "direct", "default", a deployment route's target, or "shadow". */
  route: string;
  request_id: string | null;
  /** Inputs and outputs as JSON (tensor name, datatype, shape, data), truncated past a size cap. */
  inputs: string;
  outputs: string | null;
  /** null on success, else the error message. */
  error: string | null;
  latency_ms: number;
  created_at: string;
}

/** A model that monitoring has seen, by a small key; `features`/`outputs` fixed by its first predictions. */
export interface MonitorModelsTable {
  seq: Generated<number>;
  project: string;
  model: string;
  features: number | null;
  outputs: number | null;
  created_at: string;
}

/**
 * Predictions of one model version from one ingested batch (docs/adr/0005-monitoring-store.md): `rows`
 * predictions, their ids newline-separated, `segments` (forecasts) a JSON array of [segment, period] or null
 * per row (null when none has one), and little-endian packed arrays: `at_ms` Float64 × rows, `features`
 * Float32 × rows × features, `outputs` Float64 × rows × outputs.
 */
export interface MonitorPredictionBlocksTable {
  seq: Generated<number>;
  model_key: number;
  version: number;
  rows: number;
  first_at_ms: number;
  last_at_ms: number;
  prediction_ids: string;
  segments: string | null;
  at_ms: Uint8Array;
  features: Uint8Array;
  outputs: Uint8Array;
  received_at: string;
}

export interface MonitorPredictionIdsTable {
  prediction_id: string;
  model_key: number;
  block_seq: number;
  row: number;
  at_ms: number;
}

export interface MonitorForecastKeysTable {
  model_key: number;
  segment: string;
  period: string;
  block_seq: number;
  row: number;
}

/** Ground truth: joined by prediction id (`block_seq`, `row` point at it) or by (segment, period). */
export interface MonitorFeedbackTable {
  seq: Generated<number>;
  model_key: number;
  prediction_id: string | null;
  segment: string | null;
  period: string | null;
  block_seq: number | null;
  row: number | null;
  revision: number;
  /** Float64 × the model's outputs, little-endian. */
  actual: Uint8Array;
  at_ms: number;
  received_at: string;
}

export interface MonitorIngestCountsTable {
  project: string;
  /** "predictions" or "feedback". */
  kind: string;
  /** "accepted", "rejected_batches", or a rejection reason. */
  reason: string;
  count: number;
}

export interface AutopilotPoliciesTable {
  project: string;
  name: string;
  fleet: string | null;
  /** The validated policy document as JSON. */
  body: string;
  created_at: string;
  updated_at: string;
}

export interface AutopilotActionsTable {
  id: string;
  project: string;
  model: string;
  policy: string;
  /** retrain | evaluate | promote | rollback | request-approval */
  kind: string;
  /** Unique per project: the same trigger and evidence never act twice. */
  idempotency_key: string;
  /** succeeded | skipped | awaiting-approval | failed */
  status: string;
  reason: string;
  /** JSON object. */
  evidence: string;
  approval_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface AutopilotApprovalsTable {
  id: string;
  project: string;
  model: string;
  policy: string;
  /** promote | rollback */
  action: string;
  from_version: number;
  to_version: number;
  idempotency_key: string;
  reason: string;
  evidence: string;
  /** pending | approved | rejected | expired */
  status: string;
  requested_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  note: string | null;
}

/** An alert (src/alerts). `open_key` equals `dedup_key` until the alert is resolved, then null. */
export interface AlertsTable {
  id: string;
  project_id: string;
  source: string;
  subject: string;
  severity: string;
  /** info 1, warning 2, critical 3: the inbox sorts by it. */
  severity_rank: number;
  title: string;
  reason: string;
  /** JSON, size-bounded by the service. */
  evidence: string;
  dedup_key: string;
  open_key: string | null;
  status: string;
  count: number;
  first_seen_at: string;
  last_seen_at: string;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  acknowledged_note: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  resolved_note: string | null;
  updated_at: string;
}

export interface AlertWebhooksTable {
  id: string;
  project_id: string;
  url: string;
  description: string;
  /** JSON arrays of severities and sources; empty matches all. */
  severities: string;
  sources: string;
  /** The HMAC key; shown once at creation, never again. */
  secret: string;
  enabled: number;
  created_at: string;
  updated_at: string;
}

export interface AlertDeliveriesTable {
  id: string;
  project_id: string;
  webhook_id: string;
  alert_id: string;
  event: string;
  /** The exact JSON body sent (and signed) on every attempt. */
  body: string;
  /** pending | delivered | dead */
  status: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

export interface AlertDeadLettersTable {
  id: string;
  project_id: string;
  delivery_id: string;
  webhook_id: string;
  alert_id: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  redelivered_at: string | null;
  redelivery_id: string | null;
}

export interface Database {
  projects: ProjectsTable;
  environments: EnvironmentsTable;
  registered_models: RegisteredModelsTable;
  model_tags: ModelTagsTable;
  model_versions: ModelVersionsTable;
  version_tags: VersionKeyValueTable;
  version_params: VersionKeyValueTable;
  version_metrics: VersionMetricsTable;
  aliases: AliasesTable;
  alias_history: AliasHistoryTable;
  runs: RunsTable;
  run_params: RunParamsTable;
  run_metrics: RunMetricsTable;
  run_artifacts: RunArtifactsTable;
  datasets: DatasetsTable;
  dataset_versions: DatasetVersionsTable;
  blobs: BlobsTable;
  fleets: FleetsTable;
  fleet_runs: FleetRunsTable;
  fleet_segments: FleetSegmentsTable;
  jobs: JobsTable;
  deployments: DeploymentsTable;
  prediction_log: PredictionLogTable;
  monitor_models: MonitorModelsTable;
  monitor_prediction_blocks: MonitorPredictionBlocksTable;
  monitor_prediction_ids: MonitorPredictionIdsTable;
  monitor_forecast_keys: MonitorForecastKeysTable;
  monitor_feedback: MonitorFeedbackTable;
  monitor_ingest_counts: MonitorIngestCountsTable;
  autopilot_policies: AutopilotPoliciesTable;
  autopilot_actions: AutopilotActionsTable;
  autopilot_approvals: AutopilotApprovalsTable;
  alerts: AlertsTable;
  alert_webhooks: AlertWebhooksTable;
  alert_deliveries: AlertDeliveriesTable;
  alert_dead_letters: AlertDeadLettersTable;
}
