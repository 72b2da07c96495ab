import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

/**
 * Representative rows for every table, each group written in the schema of the migration that created its
 * tables (no column a later migration added), in an order the foreign keys accept. The upgrade tests write the
 * groups a schema has, migrate to the latest, and expect every row back; a migration that adds a table without a
 * group here fails them.
 */
export type SeedRows = { readonly [T in keyof Database]?: readonly Record<string, unknown>[] };

const T0 = "2024-01-02T03:04:05.678Z";
const T1 = "2024-06-30T23:59:59.999Z";
const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;
const DIGEST_C = `sha256:${"c".repeat(64)}`;

/** Values that a careless migration would mangle: quotes, non-ASCII, JSON text, extreme numbers. */
const SIGNATURE = JSON.stringify({
  inputs: [{ name: "x", datatype: "FP32", shape: [-1, 16] }],
  outputs: [{ name: "y", datatype: "FP64", shape: [-1] }],
});

export const SEEDS: readonly { readonly migration: string; readonly rows: SeedRows }[] = [
  {
    migration: "0001_registry",
    rows: {
      projects: [{ id: "prj_1", name: "acme", description: "Ünïcødé 'quoted' \"both\"", created_at: T0 }],
      environments: ["dev", "test", "prod"].map((name) => ({
        id: `env_${name}`,
        project_id: "prj_1",
        name,
        created_at: T0,
      })),
      blobs: [
        { digest: DIGEST_A, size: 2_147_483_647, created_at: T0 },
        { digest: DIGEST_B, size: 0, created_at: T0 },
        { digest: DIGEST_C, size: 42, created_at: T1 },
      ],
      registered_models: [
        {
          id: "mdl_1",
          project_id: "prj_1",
          name: "part-A12",
          description: "front brake pad",
          fleet: "carparts",
          latest_version: 2,
          archived_at: null,
          created_at: T0,
          updated_at: T1,
        },
        {
          id: "mdl_2",
          project_id: "prj_1",
          name: "retired",
          description: "",
          fleet: null,
          latest_version: 0,
          archived_at: T1,
          created_at: T0,
          updated_at: T1,
        },
      ],
      model_tags: [
        { model_id: "mdl_1", key: "family", value: "brakes" },
        { model_id: "mdl_1", key: "my key", value: "x = 'y'" },
      ],
      runs: [
        {
          id: "run_1",
          project_id: "prj_1",
          name: "nightly",
          status: "finished",
          started_at: T0,
          ended_at: T1,
          source_ref: "git:abc123",
        },
        {
          id: "run_2",
          project_id: "prj_1",
          name: "fleet carparts",
          status: "running",
          started_at: T1,
          ended_at: null,
          source_ref: null,
        },
      ],
      run_params: [{ run_id: "run_1", key: "method", value: "ets" }],
      run_metrics: [
        { run_id: "run_1", key: "loss", value: 3.25, step: 0, timestamp: T0 },
        { run_id: "run_1", key: "loss", value: -1e-300, step: 1, timestamp: T1 },
      ],
      run_artifacts: [
        { run_id: "run_1", name: "plots/loss.png", digest: DIGEST_C, size: 42, created_at: T1 },
      ],
      datasets: [{ id: "dst_1", project_id: "prj_1", name: "demand", latest_version: 1, created_at: T0 }],
      dataset_versions: [
        {
          id: "dsv_1",
          dataset_id: "dst_1",
          version: 1,
          digest: DIGEST_B,
          size: 0,
          format: "csv",
          rows: 136_374,
          schema: JSON.stringify([{ name: "series_id", type: "string", nullable: false }]),
          created_at: T0,
        },
      ],
      model_versions: [
        {
          id: "ver_1",
          model_id: "mdl_1",
          version: 1,
          runtime: "skala.forecast",
          artifact_digest: DIGEST_A,
          artifact_size: 2_147_483_647,
          signature: SIGNATURE,
          status: "ready",
          description: "first",
          run_id: "run_1",
          dataset_version_id: "dsv_1",
          parent_version_id: null,
          source_ref: "git:abc123",
          created_at: T0,
        },
        {
          id: "ver_2",
          model_id: "mdl_1",
          version: 2,
          runtime: "onnx",
          artifact_digest: DIGEST_B,
          artifact_size: 0,
          signature: "",
          status: "flagged",
          description: "",
          run_id: null,
          dataset_version_id: null,
          parent_version_id: "ver_1",
          source_ref: null,
          created_at: T1,
        },
      ],
      version_tags: [
        { version_id: "ver_1", key: "segment", value: "A12" },
        { version_id: "ver_2", key: "segment", value: "A12" },
        { version_id: "ver_2", key: "quote'key", value: "it's" },
      ],
      version_params: [{ version_id: "ver_1", key: "alpha", value: "0.2" }],
      version_metrics: [
        { version_id: "ver_1", key: "mase", value: 0.8200000000000001 },
        { version_id: "ver_1", key: "bias", value: -123456.789 },
        { version_id: "ver_2", key: "mase", value: 0 },
      ],
      aliases: [
        { model_id: "mdl_1", alias: "champion", version_id: "ver_2", updated_at: T1 },
        { model_id: "mdl_1", alias: "challenger", version_id: "ver_1", updated_at: T1 },
      ],
      alias_history: [
        {
          model_id: "mdl_1",
          alias: "champion",
          from_version_id: null,
          to_version_id: "ver_1",
          changed_at: T0,
          reason: "first",
        },
        {
          model_id: "mdl_1",
          alias: "champion",
          from_version_id: "ver_1",
          to_version_id: "ver_2",
          changed_at: T1,
          reason: "better mase",
        },
      ],
    },
  },
  {
    migration: "0002_jobs",
    rows: {
      jobs: [
        {
          id: "job_1",
          kind: "fleet.chunk",
          idempotency_key: "fleet:run_2:chunk:0",
          group_id: "run_2",
          payload: JSON.stringify({ runId: "run_2", chunk: 0 }),
          status: "succeeded",
          attempts: 1,
          max_attempts: 3,
          run_after: T0,
          lease_owner: null,
          lease_expires_at: null,
          heartbeat_at: T0,
          result: JSON.stringify({ trained: 50 }),
          last_error: null,
          created_at: T0,
          updated_at: T1,
          started_at: T0,
          finished_at: T1,
        },
        {
          id: "job_2",
          kind: "fleet.chunk",
          idempotency_key: null,
          group_id: "run_2",
          payload: "{}",
          status: "running",
          attempts: 2,
          max_attempts: 3,
          run_after: T0,
          lease_owner: "worker-1",
          lease_expires_at: T1,
          heartbeat_at: T1,
          result: null,
          last_error: "killed",
          created_at: T0,
          updated_at: T1,
          started_at: T1,
          finished_at: null,
        },
      ],
    },
  },
  {
    migration: "0003_fleets",
    rows: {
      fleets: [
        {
          id: "flt_1",
          project_id: "prj_1",
          name: "carparts",
          spec: JSON.stringify({ name: "carparts", horizon: 12 }),
          created_at: T0,
          updated_at: T1,
        },
      ],
      fleet_runs: [
        {
          id: "run_2",
          fleet_id: "flt_1",
          status: "running",
          idempotency_key: "carparts:sha256:b",
          spec: "{}",
          plan: JSON.stringify({ horizon: 12, candidates: [] }),
          dataset_version_id: "dsv_1",
          dataset_digest: DIGEST_B,
          total: 2674,
          chunk_size: 50,
          atomic: 0,
          error: null,
          train_cpu_ms: 1234.5,
          peak_rss_mb: 310.25,
          created_at: T1,
          started_at: T1,
          finished_at: null,
        },
      ],
      fleet_segments: [
        {
          run_id: "run_2",
          series_id: "21311636",
          chunk: 0,
          status: "registered",
          reason: null,
          message: null,
          model: "part-A12",
          winner: "ses",
          version: 2,
          gate_passed: 1,
          metrics: JSON.stringify({ wql: 0.91 }),
          state_digest: DIGEST_A,
          fit_ms: 3.5,
          created_at: T1,
        },
        {
          run_id: "run_2",
          series_id: "90552200",
          chunk: 0,
          status: "failed",
          reason: "TOO_SHORT",
          message: "12 points, needs 14",
          model: null,
          winner: null,
          version: null,
          gate_passed: null,
          metrics: "{}",
          state_digest: null,
          fit_ms: 0,
          created_at: T1,
        },
      ],
    },
  },
  {
    migration: "0004_serving",
    rows: {
      deployments: [
        {
          id: "dep_1",
          environment_id: "env_prod",
          model_id: "mdl_1",
          routes: JSON.stringify([
            { target: "champion", weight: 90 },
            { target: "1", weight: 10 },
          ]),
          shadow: "challenger",
          pinned: 1,
          created_at: T0,
          updated_at: T1,
        },
      ],
      prediction_log: [
        {
          project: "acme",
          model: "part-A12",
          version: 2,
          version_id: "ver_2",
          route: "champion",
          request_id: "req-1",
          inputs: JSON.stringify([{ name: "x", datatype: "FP32", shape: [1, 16], data: [0.5] }]),
          outputs: null,
          error: "shape mismatch",
          latency_ms: 0.125,
          created_at: T1,
        },
      ],
    },
  },
  {
    migration: "0008_monitoring",
    rows: {
      monitor_models: [{ project: "acme", model: "part-A12", features: 2, outputs: 1, created_at: T0 }],
      monitor_prediction_blocks: [
        {
          model_key: 1,
          version: 2,
          rows: 2,
          first_at_ms: 1_704_164_645_678,
          last_at_ms: 1_719_791_999_999,
          prediction_ids: "p-1\np-ü",
          segments: JSON.stringify([["A12", "2024-07"], null]),
          at_ms: Buffer.from(Float64Array.from([1_704_164_645_678, 1_719_791_999_999]).buffer),
          features: Buffer.from(Float32Array.from([0.5, -1e30, 3, Number.MIN_VALUE]).buffer),
          outputs: Buffer.from(Float64Array.from([Number.MAX_VALUE, -0.125]).buffer),
          received_at: T1,
        },
      ],
      monitor_prediction_ids: [
        { prediction_id: "p-1", model_key: 1, block_seq: 1, row: 0, at_ms: 1_704_164_645_678 },
        { prediction_id: "p-ü", model_key: 1, block_seq: 1, row: 1, at_ms: 1_719_791_999_999 },
      ],
      monitor_forecast_keys: [{ model_key: 1, segment: "A12", period: "2024-07", block_seq: 1, row: 0 }],
      monitor_feedback: [
        {
          model_key: 1,
          prediction_id: "p-1",
          segment: null,
          period: null,
          block_seq: 1,
          row: 0,
          revision: 0,
          actual: Buffer.from(Float64Array.from([1]).buffer),
          at_ms: 1_719_791_999_999,
          received_at: T1,
        },
      ],
      monitor_ingest_counts: [{ project: "acme", kind: "feedback", reason: "duplicate", count: 2 ** 40 }],
    },
  },
  {
    migration: "0009_autopilot",
    rows: {
      autopilot_policies: [
        {
          project: "acme",
          name: "nightly",
          fleet: "carparts",
          body: JSON.stringify({
            name: "nightly",
            rules: [{ when: { schedule: { everyMinutes: 1440 } }, do: ["evaluate"] }],
          }),
          created_at: T0,
          updated_at: T1,
        },
      ],
      autopilot_actions: [
        {
          id: "act_1",
          project: "acme",
          model: "part-A12",
          policy: "nightly",
          kind: "promote",
          idempotency_key: "nightly:part-A12:promote:1->2",
          status: "succeeded",
          reason: "better by 12 %",
          evidence: JSON.stringify({ pValue: 0.01 }),
          approval_id: null,
          created_at: T0,
          updated_at: T1,
        },
      ],
      autopilot_approvals: [
        {
          id: "apr_1",
          project: "acme",
          model: "part-A12",
          policy: "nightly",
          action: "rollback",
          from_version: 2,
          to_version: 1,
          idempotency_key: "nightly:part-A12:rollback:2->1@t",
          reason: "degraded",
          evidence: JSON.stringify({ meanError: 3.5 }),
          status: "pending",
          requested_at: T0,
          expires_at: T1,
          decided_by: null,
          decided_at: null,
          note: null,
        },
      ],
    },
  },
  {
    migration: "0010_alerts",
    rows: {
      alerts: [
        {
          id: "alr_1",
          project_id: "prj_1",
          source: "monitoring",
          subject: "model:part-A12",
          severity: "critical",
          severity_rank: 3,
          title: "MASE 'doubled' — Ünïcødé",
          reason: "mase 2.4 > 1.2",
          evidence: JSON.stringify({ mase: 2.4, window: [1, 2, 3] }),
          dedup_key: "drift:part-A12",
          open_key: "drift:part-A12",
          status: "acknowledged",
          count: 2_147_483_647,
          first_seen_at: T0,
          last_seen_at: T1,
          acknowledged_by: "ops",
          acknowledged_at: T1,
          acknowledged_note: "looking",
          resolved_by: null,
          resolved_at: null,
          resolved_note: null,
          updated_at: T1,
        },
      ],
      alert_webhooks: [
        {
          id: "whk_1",
          project_id: "prj_1",
          url: "https://hooks.example.com/skala?x=1",
          description: "",
          severities: JSON.stringify(["critical"]),
          sources: JSON.stringify([]),
          secret: "whsec_test",
          enabled: 1,
          created_at: T0,
          updated_at: T0,
        },
      ],
      alert_deliveries: [
        {
          id: "dlv_1",
          project_id: "prj_1",
          webhook_id: "whk_1",
          alert_id: "alr_1",
          event: "alert.raised",
          body: JSON.stringify({ event: "alert.raised" }),
          status: "dead",
          attempts: 8,
          last_status: 503,
          last_error: "HTTP 503",
          next_attempt_at: null,
          created_at: T0,
          updated_at: T1,
          delivered_at: null,
        },
      ],
      alert_dead_letters: [
        {
          id: "dlt_1",
          project_id: "prj_1",
          delivery_id: "dlv_1",
          webhook_id: "whk_1",
          alert_id: "alr_1",
          attempts: 8,
          last_status: 503,
          last_error: "HTTP 503",
          created_at: T1,
          redelivered_at: null,
          redelivery_id: null,
        },
      ],
    },
  },
];

/** Tables with an autoincrement `seq`: their rows come back in insertion order with 1, 2, … */
export const SEQUENCED_TABLES: ReadonlySet<keyof Database> = new Set([
  "run_metrics",
  "alias_history",
  "jobs",
  "prediction_log",
  "monitor_models",
  "monitor_prediction_blocks",
  "monitor_feedback",
]);

/** The groups a database migrated to `migration` has tables for. */
export function seedsUpTo(migration: string): SeedRows[] {
  return SEEDS.filter((seed) => seed.migration <= migration).map((seed) => seed.rows);
}

/** Writes the rows of `seeds`, table by table in the order given. */
export async function writeSeeds(db: Kysely<Database>, seeds: readonly SeedRows[]): Promise<void> {
  for (const rows of seeds) {
    for (const [table, values] of Object.entries(rows) as [keyof Database, Record<string, unknown>[]][]) {
      // Kysely's insert types cannot follow a table chosen at run time; the upgrade tests check every value.
      await db
        .insertInto(table)
        .values(values as never)
        .execute();
    }
  }
}
