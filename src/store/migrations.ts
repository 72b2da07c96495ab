import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";
import { isSkalaError, SkalaError } from "../core/index.js";
import type { DialectName, Store } from "./database.js";

type AnyDb = Kysely<unknown>;

/** Migrations are code, numbered, append-only: never edit one that has shipped, add the next. */
function migrations(dialect: DialectName): Record<string, Migration> {
  const autoIncrement = (db: AnyDb, table: string) =>
    dialect === "postgres"
      ? db.schema.createTable(table).addColumn("seq", "bigserial", (c) => c.primaryKey())
      : db.schema.createTable(table).addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement());
  const double = dialect === "postgres" ? "double precision" : "real";

  return {
    "0001_registry": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("projects")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull().unique())
          .addColumn("description", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("environments")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addUniqueConstraint("environments_project_name", ["project_id", "name"])
          .execute();
        await db.schema
          .createTable("blobs")
          .addColumn("digest", "text", (c) => c.primaryKey())
          .addColumn("size", "bigint", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("registered_models")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("description", "text", (c) => c.notNull())
          .addColumn("fleet", "text")
          .addColumn("latest_version", "integer", (c) => c.notNull())
          .addColumn("archived_at", "text")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addUniqueConstraint("registered_models_project_name", ["project_id", "name"])
          .execute();
        await db.schema
          .createIndex("registered_models_fleet")
          .on("registered_models")
          .columns(["project_id", "fleet", "name"])
          .execute();
        await db.schema
          .createIndex("registered_models_created")
          .on("registered_models")
          .columns(["project_id", "created_at", "id"])
          .execute();
        await db.schema
          .createTable("model_tags")
          .addColumn("model_id", "text", (c) =>
            c.notNull().references("registered_models.id").onDelete("cascade"),
          )
          .addColumn("key", "text", (c) => c.notNull())
          .addColumn("value", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint("model_tags_pk", ["model_id", "key"])
          .execute();
        await db.schema
          .createIndex("model_tags_key_value")
          .on("model_tags")
          .columns(["key", "value"])
          .execute();

        await db.schema
          .createTable("runs")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("started_at", "text", (c) => c.notNull())
          .addColumn("ended_at", "text")
          .addColumn("source_ref", "text")
          .execute();
        await db.schema.createIndex("runs_project").on("runs").columns(["project_id", "id"]).execute();
        await db.schema
          .createTable("run_params")
          .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
          .addColumn("key", "text", (c) => c.notNull())
          .addColumn("value", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint("run_params_pk", ["run_id", "key"])
          .execute();
        await autoIncrement(db, "run_metrics")
          .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
          .addColumn("key", "text", (c) => c.notNull())
          .addColumn("value", double, (c) => c.notNull())
          .addColumn("step", "integer", (c) => c.notNull())
          .addColumn("timestamp", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("run_metrics_run_key")
          .on("run_metrics")
          .columns(["run_id", "key", "step"])
          .execute();
        await db.schema
          .createTable("run_artifacts")
          .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("digest", "text", (c) => c.notNull().references("blobs.digest"))
          .addColumn("size", "bigint", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint("run_artifacts_pk", ["run_id", "name"])
          .execute();

        await db.schema
          .createTable("datasets")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("latest_version", "integer", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addUniqueConstraint("datasets_project_name", ["project_id", "name"])
          .execute();
        await db.schema
          .createTable("dataset_versions")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("dataset_id", "text", (c) => c.notNull().references("datasets.id"))
          .addColumn("version", "integer", (c) => c.notNull())
          .addColumn("digest", "text", (c) => c.notNull().references("blobs.digest"))
          .addColumn("size", "bigint", (c) => c.notNull())
          .addColumn("format", "text", (c) => c.notNull())
          .addColumn("rows", "bigint", (c) => c.notNull())
          .addColumn("schema", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addUniqueConstraint("dataset_versions_dataset_version", ["dataset_id", "version"])
          .execute();

        await db.schema
          .createTable("model_versions")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("model_id", "text", (c) => c.notNull().references("registered_models.id"))
          .addColumn("version", "integer", (c) => c.notNull())
          .addColumn("runtime", "text", (c) => c.notNull())
          .addColumn("artifact_digest", "text", (c) => c.notNull().references("blobs.digest"))
          .addColumn("artifact_size", "bigint", (c) => c.notNull())
          .addColumn("signature", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("description", "text", (c) => c.notNull())
          .addColumn("run_id", "text", (c) => c.references("runs.id"))
          .addColumn("dataset_version_id", "text", (c) => c.references("dataset_versions.id"))
          .addColumn("parent_version_id", "text", (c) => c.references("model_versions.id"))
          .addColumn("source_ref", "text")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addUniqueConstraint("model_versions_model_version", ["model_id", "version"])
          .execute();
        await db.schema
          .createIndex("model_versions_digest")
          .on("model_versions")
          .column("artifact_digest")
          .execute();
        for (const table of ["version_tags", "version_params"]) {
          await db.schema
            .createTable(table)
            .addColumn("version_id", "text", (c) =>
              c.notNull().references("model_versions.id").onDelete("cascade"),
            )
            .addColumn("key", "text", (c) => c.notNull())
            .addColumn("value", "text", (c) => c.notNull())
            .addPrimaryKeyConstraint(`${table}_pk`, ["version_id", "key"])
            .execute();
          await db.schema.createIndex(`${table}_key_value`).on(table).columns(["key", "value"]).execute();
        }
        await db.schema
          .createTable("version_metrics")
          .addColumn("version_id", "text", (c) =>
            c.notNull().references("model_versions.id").onDelete("cascade"),
          )
          .addColumn("key", "text", (c) => c.notNull())
          .addColumn("value", double, (c) => c.notNull())
          .addPrimaryKeyConstraint("version_metrics_pk", ["version_id", "key"])
          .execute();
        await db.schema
          .createIndex("version_metrics_key_value")
          .on("version_metrics")
          .columns(["key", "value"])
          .execute();

        await db.schema
          .createTable("aliases")
          .addColumn("model_id", "text", (c) => c.notNull().references("registered_models.id"))
          .addColumn("alias", "text", (c) => c.notNull())
          .addColumn("version_id", "text", (c) => c.notNull().references("model_versions.id"))
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint("aliases_pk", ["model_id", "alias"])
          .execute();
        await db.schema.createIndex("aliases_version").on("aliases").column("version_id").execute();
        await autoIncrement(db, "alias_history")
          .addColumn("model_id", "text", (c) => c.notNull().references("registered_models.id"))
          .addColumn("alias", "text", (c) => c.notNull())
          .addColumn("from_version_id", "text", (c) => c.references("model_versions.id"))
          .addColumn("to_version_id", "text", (c) => c.references("model_versions.id"))
          .addColumn("changed_at", "text", (c) => c.notNull())
          .addColumn("reason", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("alias_history_model")
          .on("alias_history")
          .columns(["model_id", "alias", "seq"])
          .execute();
      },
    },
    "0002_jobs": {
      async up(db: AnyDb) {
        // The durable job queue (src/jobs). The idempotency key is unique so that a retried enqueue
        // (a resumed fleet) finds the job it made before instead of adding a second one; `seq` gives
        // first-in-first-out order, which ids made in the same millisecond do not.
        await autoIncrement(db, "jobs")
          .addColumn("id", "text", (c) => c.notNull().unique())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("idempotency_key", "text", (c) => c.unique())
          .addColumn("group_id", "text")
          .addColumn("payload", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("attempts", "integer", (c) => c.notNull())
          .addColumn("max_attempts", "integer", (c) => c.notNull())
          .addColumn("run_after", "text", (c) => c.notNull())
          .addColumn("lease_owner", "text")
          .addColumn("lease_expires_at", "text")
          .addColumn("heartbeat_at", "text")
          .addColumn("result", "text")
          .addColumn("last_error", "text")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addColumn("started_at", "text")
          .addColumn("finished_at", "text")
          .execute();
        await db.schema
          .createIndex("jobs_claim")
          .on("jobs")
          .columns(["status", "kind", "run_after", "seq"])
          .execute();
        await db.schema
          .createIndex("jobs_lease")
          .on("jobs")
          .columns(["status", "lease_expires_at"])
          .execute();
        await db.schema.createIndex("jobs_group").on("jobs").columns(["group_id", "status"]).execute();
      },
    },
    "0003_fleets": {
      async up(db: AnyDb) {
        // Fleets (src/fleets): the spec, each run with its settings and plan, and one row per segment, written
        // in the same transaction as that segment's registered version so a retried chunk skips it.
        await db.schema
          .createTable("fleets")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("spec", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addUniqueConstraint("fleets_project_name", ["project_id", "name"])
          .execute();
        await db.schema
          .createTable("fleet_runs")
          .addColumn("id", "text", (c) => c.primaryKey().references("runs.id"))
          .addColumn("fleet_id", "text", (c) => c.notNull().references("fleets.id"))
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("idempotency_key", "text", (c) => c.notNull().unique())
          .addColumn("spec", "text", (c) => c.notNull())
          .addColumn("plan", "text", (c) => c.notNull())
          .addColumn("dataset_version_id", "text", (c) => c.notNull().references("dataset_versions.id"))
          .addColumn("dataset_digest", "text", (c) => c.notNull())
          .addColumn("total", "integer", (c) => c.notNull())
          .addColumn("chunk_size", "integer", (c) => c.notNull())
          .addColumn("atomic", "integer", (c) => c.notNull())
          .addColumn("error", "text")
          .addColumn("train_cpu_ms", double, (c) => c.notNull())
          .addColumn("peak_rss_mb", double, (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("started_at", "text")
          .addColumn("finished_at", "text")
          .execute();
        await db.schema
          .createIndex("fleet_runs_fleet")
          .on("fleet_runs")
          .columns(["fleet_id", "created_at"])
          .execute();
        await db.schema
          .createTable("fleet_segments")
          .addColumn("run_id", "text", (c) => c.notNull().references("fleet_runs.id").onDelete("cascade"))
          .addColumn("series_id", "text", (c) => c.notNull())
          .addColumn("chunk", "integer", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("reason", "text")
          .addColumn("message", "text")
          .addColumn("model", "text")
          .addColumn("winner", "text")
          .addColumn("version", "integer")
          .addColumn("gate_passed", "integer")
          .addColumn("metrics", "text", (c) => c.notNull())
          .addColumn("state_digest", "text")
          .addColumn("fit_ms", double, (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint("fleet_segments_pk", ["run_id", "series_id"])
          .execute();
        await db.schema
          .createIndex("fleet_segments_status")
          .on("fleet_segments")
          .columns(["run_id", "status"])
          .execute();
      },
    },
    "0004_serving": {
      async up(db: AnyDb) {
        // Deployments route a model's traffic in one environment (src/registry); the prediction log holds
        // sampled predictions for monitoring (src/inference writes it in batches).
        await db.schema
          .createTable("deployments")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("environment_id", "text", (c) =>
            c.notNull().references("environments.id").onDelete("cascade"),
          )
          .addColumn("model_id", "text", (c) =>
            c.notNull().references("registered_models.id").onDelete("cascade"),
          )
          .addColumn("routes", "text", (c) => c.notNull())
          .addColumn("shadow", "text")
          .addColumn("pinned", "integer", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addUniqueConstraint("deployments_environment_model", ["environment_id", "model_id"])
          .execute();
        await autoIncrement(db, "prediction_log")
          .addColumn("project", "text", (c) => c.notNull())
          .addColumn("model", "text", (c) => c.notNull())
          .addColumn("version", "integer", (c) => c.notNull())
          .addColumn("version_id", "text", (c) => c.notNull())
          .addColumn("route", "text", (c) => c.notNull())
          .addColumn("request_id", "text")
          .addColumn("inputs", "text", (c) => c.notNull())
          .addColumn("outputs", "text")
          .addColumn("error", "text")
          .addColumn("latency_ms", double, (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("prediction_log_model_time")
          .on("prediction_log")
          .columns(["project", "model", "created_at"])
          .execute();
      },
    },
    "0005_job_progress": {
      async up(db: AnyDb) {
        // What a running job reports about itself (JSON: rows scored so far, …), for progress bars; reset by
        // nothing, overwritten by the attempt that runs. A batch scoring job is one job, so group counts
        // cannot show how far it got.
        await db.schema.alterTable("jobs").addColumn("progress", "text").execute();
      },
    },
    "0006_prediction_log_age": {
      async up(db: AnyDb) {
        // Retention deletes the oldest predictions by time across every model.
        await db.schema
          .createIndex("prediction_log_created")
          .on("prediction_log")
          .column("created_at")
          .execute();
      },
    },
    "0007_runs_source_ref": {
      async up(db: AnyDb) {
        // Idempotent producers (a fleet submission, a retried job attempt) look their run up by project and
        // source (RunService.ensure); `id` last, so the earliest of them comes first without a sort.
        await db.schema
          .createIndex("runs_project_source")
          .on("runs")
          .columns(["project_id", "source_ref", "id"])
          .execute();
      },
    },
    "0008_monitoring": {
      async up(db: AnyDb) {
        // Monitoring's predictions and ground truth (docs/adr/0005-monitoring-store.md). A model monitored in a
        // project gets a small integer key; predictions are stored as blocks, one row per model, version and
        // ingested batch, with times, features and outputs packed as little-endian Float64/Float32/Float64
        // arrays, so a batch of 5,000 predictions over 1,000 models is about 1,000 rows, not 5,000. Each
        // prediction id (and each forecast's segment and period) has a row of its own pointing into its block:
        // that is what feedback joins on and what duplicates are checked against. Times are epoch ms.
        const blob = dialect === "postgres" ? "bytea" : "blob";
        await autoIncrement(db, "monitor_models")
          .addColumn("project", "text", (c) => c.notNull())
          .addColumn("model", "text", (c) => c.notNull())
          .addColumn("features", "integer")
          .addColumn("outputs", "integer")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addUniqueConstraint("monitor_models_project_model", ["project", "model"])
          .execute();
        await autoIncrement(db, "monitor_prediction_blocks")
          .addColumn("model_key", "bigint", (c) =>
            c.notNull().references("monitor_models.seq").onDelete("cascade"),
          )
          .addColumn("version", "integer", (c) => c.notNull())
          .addColumn("rows", "integer", (c) => c.notNull())
          .addColumn("first_at_ms", "bigint", (c) => c.notNull())
          .addColumn("last_at_ms", "bigint", (c) => c.notNull())
          .addColumn("prediction_ids", "text", (c) => c.notNull())
          .addColumn("segments", "text")
          .addColumn("at_ms", blob, (c) => c.notNull())
          .addColumn("features", blob, (c) => c.notNull())
          .addColumn("outputs", blob, (c) => c.notNull())
          .addColumn("received_at", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("monitor_prediction_blocks_model_time")
          .on("monitor_prediction_blocks")
          .columns(["model_key", "last_at_ms"])
          .execute();
        await db.schema
          .createIndex("monitor_prediction_blocks_time")
          .on("monitor_prediction_blocks")
          .column("last_at_ms")
          .execute();
        // On SQLite the id rows are the primary key's B-tree itself (WITHOUT ROWID): one tree to insert into per
        // prediction, not a table and its index.
        const withoutRowid = <T extends { modifyEnd(node: ReturnType<typeof sql.raw>): T }>(builder: T) =>
          dialect === "sqlite" ? builder.modifyEnd(sql.raw("without rowid")) : builder;
        await withoutRowid(db.schema.createTable("monitor_prediction_ids"))
          .addColumn("prediction_id", "text", (c) => c.notNull())
          .addColumn("model_key", "bigint", (c) => c.notNull())
          .addColumn("block_seq", "bigint", (c) =>
            c.notNull().references("monitor_prediction_blocks.seq").onDelete("cascade"),
          )
          .addColumn("row", "integer", (c) => c.notNull())
          .addColumn("at_ms", "bigint", (c) => c.notNull())
          .addPrimaryKeyConstraint("monitor_prediction_ids_pk", ["prediction_id", "model_key"])
          .execute();
        await db.schema
          .createIndex("monitor_prediction_ids_block")
          .on("monitor_prediction_ids")
          .column("block_seq")
          .execute();
        await db.schema
          .createTable("monitor_forecast_keys")
          .addColumn("model_key", "bigint", (c) => c.notNull())
          .addColumn("segment", "text", (c) => c.notNull())
          .addColumn("period", "text", (c) => c.notNull())
          .addColumn("block_seq", "bigint", (c) =>
            c.notNull().references("monitor_prediction_blocks.seq").onDelete("cascade"),
          )
          .addColumn("row", "integer", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("monitor_forecast_keys_key")
          .on("monitor_forecast_keys")
          .columns(["model_key", "segment", "period"])
          .execute();
        await db.schema
          .createIndex("monitor_forecast_keys_block")
          .on("monitor_forecast_keys")
          .column("block_seq")
          .execute();
        await autoIncrement(db, "monitor_feedback")
          .addColumn("model_key", "bigint", (c) =>
            c.notNull().references("monitor_models.seq").onDelete("cascade"),
          )
          .addColumn("prediction_id", "text")
          .addColumn("segment", "text")
          .addColumn("period", "text")
          .addColumn("block_seq", "bigint", (c) =>
            c.references("monitor_prediction_blocks.seq").onDelete("cascade"),
          )
          .addColumn("row", "integer")
          .addColumn("revision", "integer", (c) => c.notNull())
          .addColumn("actual", blob, (c) => c.notNull())
          .addColumn("at_ms", "bigint", (c) => c.notNull())
          .addColumn("received_at", "text", (c) => c.notNull())
          .execute();
        // The database's own guard against a second actual for the same key and revision (the service checks
        // first, with reasons); one partial index per kind of key.
        await db.schema
          .createIndex("monitor_feedback_prediction")
          .on("monitor_feedback")
          .columns(["prediction_id", "model_key", "revision"])
          .unique()
          .where(sql.ref("prediction_id"), "is not", null)
          .execute();
        await db.schema
          .createIndex("monitor_feedback_forecast")
          .on("monitor_feedback")
          .columns(["model_key", "segment", "period", "revision"])
          .unique()
          .where(sql.ref("segment"), "is not", null)
          .execute();
        await db.schema
          .createIndex("monitor_feedback_block")
          .on("monitor_feedback")
          .column("block_seq")
          .execute();
        await db.schema
          .createIndex("monitor_feedback_time")
          .on("monitor_feedback")
          .columns(["model_key", "at_ms"])
          .execute();
        // Rows accepted and rejected per project, kind (predictions, feedback) and reason; rejected batches are
        // counted in a transaction of their own, after the batch's was rolled back.
        await db.schema
          .createTable("monitor_ingest_counts")
          .addColumn("project", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("reason", "text", (c) => c.notNull())
          .addColumn("count", "bigint", (c) => c.notNull())
          .addPrimaryKeyConstraint("monitor_ingest_counts_pk", ["project", "kind", "reason"])
          .execute();
      },
    },
    "0009_autopilot": {
      async up(db: AnyDb) {
        // Autopilot policies (the validated document as JSON), one per name and project.
        await db.schema
          .createTable("autopilot_policies")
          .addColumn("project", "text", (c) => c.notNull())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("fleet", "text")
          .addColumn("body", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint("autopilot_policies_pk", ["project", "name"])
          .execute();
        // The action ledger: every action decided, done, refused or waiting for a person, once per key. A
        // promotion or rollback commits with its alias move, so a crash leaves both or neither.
        await db.schema
          .createTable("autopilot_actions")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project", "text", (c) => c.notNull())
          .addColumn("model", "text", (c) => c.notNull())
          .addColumn("policy", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("idempotency_key", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("reason", "text", (c) => c.notNull())
          .addColumn("evidence", "text", (c) => c.notNull())
          .addColumn("approval_id", "text")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addUniqueConstraint("autopilot_actions_key", ["project", "idempotency_key"])
          .execute();
        await db.schema
          .createIndex("autopilot_actions_model")
          .on("autopilot_actions")
          .columns(["project", "model", "kind", "updated_at"])
          .execute();
        await db.schema
          .createIndex("autopilot_actions_time")
          .on("autopilot_actions")
          .columns(["project", "created_at"])
          .execute();
        // Requests for a person to decide a promotion or rollback.
        await db.schema
          .createTable("autopilot_approvals")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project", "text", (c) => c.notNull())
          .addColumn("model", "text", (c) => c.notNull())
          .addColumn("policy", "text", (c) => c.notNull())
          .addColumn("action", "text", (c) => c.notNull())
          .addColumn("from_version", "integer", (c) => c.notNull())
          .addColumn("to_version", "integer", (c) => c.notNull())
          .addColumn("idempotency_key", "text", (c) => c.notNull())
          .addColumn("reason", "text", (c) => c.notNull())
          .addColumn("evidence", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("requested_at", "text", (c) => c.notNull())
          .addColumn("expires_at", "text", (c) => c.notNull())
          .addColumn("decided_by", "text")
          .addColumn("decided_at", "text")
          .addColumn("note", "text")
          .addUniqueConstraint("autopilot_approvals_key", ["project", "idempotency_key"])
          .execute();
        await db.schema
          .createIndex("autopilot_approvals_status")
          .on("autopilot_approvals")
          .columns(["project", "status", "requested_at"])
          .execute();
      },
    },
    "0010_alerts": {
      async up(db: AnyDb) {
        // Alerts (src/alerts). `open_key` is the dedup key while the alert is open or acknowledged and null once
        // it is resolved: the unique (project, open_key) pair makes the same open condition one alert on both
        // dialects (nulls are distinct), and a resolved alert's key free for the next occurrence.
        await db.schema
          .createTable("alerts")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
          .addColumn("source", "text", (c) => c.notNull())
          .addColumn("subject", "text", (c) => c.notNull())
          .addColumn("severity", "text", (c) => c.notNull())
          .addColumn("severity_rank", "integer", (c) => c.notNull())
          .addColumn("title", "text", (c) => c.notNull())
          .addColumn("reason", "text", (c) => c.notNull())
          .addColumn("evidence", "text", (c) => c.notNull())
          .addColumn("dedup_key", "text", (c) => c.notNull())
          .addColumn("open_key", "text")
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("count", "integer", (c) => c.notNull())
          .addColumn("first_seen_at", "text", (c) => c.notNull())
          .addColumn("last_seen_at", "text", (c) => c.notNull())
          .addColumn("acknowledged_by", "text")
          .addColumn("acknowledged_at", "text")
          .addColumn("acknowledged_note", "text")
          .addColumn("resolved_by", "text")
          .addColumn("resolved_at", "text")
          .addColumn("resolved_note", "text")
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addUniqueConstraint("alerts_project_open_key", ["project_id", "open_key"])
          .execute();
        await db.schema
          .createIndex("alerts_inbox")
          .on("alerts")
          .columns(["project_id", "status", "severity_rank", "id"])
          .execute();
        await db.schema
          .createIndex("alerts_rank")
          .on("alerts")
          .columns(["project_id", "severity_rank", "id"])
          .execute();
        await db.schema
          .createTable("alert_webhooks")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
          .addColumn("url", "text", (c) => c.notNull())
          .addColumn("description", "text", (c) => c.notNull())
          // JSON arrays; an empty array matches every severity (source).
          .addColumn("severities", "text", (c) => c.notNull())
          .addColumn("sources", "text", (c) => c.notNull())
          .addColumn("secret", "text", (c) => c.notNull())
          .addColumn("enabled", "integer", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("alert_webhooks_project")
          .on("alert_webhooks")
          .columns(["project_id", "id"])
          .execute();
        // One row per message to one subscription; each attempt is a job (`alerts.deliver`) whose payload names
        // the delivery and the attempt number, so a retried job never counts an attempt twice.
        await db.schema
          .createTable("alert_deliveries")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
          .addColumn("webhook_id", "text", (c) =>
            c.notNull().references("alert_webhooks.id").onDelete("cascade"),
          )
          .addColumn("alert_id", "text", (c) => c.notNull().references("alerts.id"))
          .addColumn("event", "text", (c) => c.notNull())
          .addColumn("body", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("attempts", "integer", (c) => c.notNull())
          .addColumn("last_status", "integer")
          .addColumn("last_error", "text")
          .addColumn("next_attempt_at", "text")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .addColumn("delivered_at", "text")
          .execute();
        await db.schema
          .createIndex("alert_deliveries_webhook")
          .on("alert_deliveries")
          .columns(["webhook_id", "id"])
          .execute();
        await db.schema
          .createTable("alert_dead_letters")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
          .addColumn("delivery_id", "text", (c) =>
            c.notNull().unique().references("alert_deliveries.id").onDelete("cascade"),
          )
          .addColumn("webhook_id", "text", (c) =>
            c.notNull().references("alert_webhooks.id").onDelete("cascade"),
          )
          .addColumn("alert_id", "text", (c) => c.notNull().references("alerts.id"))
          .addColumn("attempts", "integer", (c) => c.notNull())
          .addColumn("last_status", "integer")
          .addColumn("last_error", "text")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("redelivered_at", "text")
          .addColumn("redelivery_id", "text")
          .execute();
        await db.schema
          .createIndex("alert_dead_letters_project")
          .on("alert_dead_letters")
          .columns(["project_id", "id"])
          .execute();
      },
    },
  };
}

class InCodeMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: DialectName) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

function migrator(store: Store): Migrator {
  return new Migrator({
    db: store.db,
    provider: new InCodeMigrationProvider(store.dialect),
    migrationTableName: "skala_migrations",
    migrationLockTableName: "skala_migrations_lock",
  });
}

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(store: Store): Promise<string[]> {
  const { error, results } = await migrator(store).migrateToLatest();
  // A classified storage failure (DATABASE_BUSY while another process writes, STORAGE_FULL) keeps its code.
  if (isSkalaError(error)) throw error;
  if (error) {
    throw new SkalaError(
      "SERVICE_UNAVAILABLE",
      `database migration failed: ${String((error as Error).message ?? error)}`,
      undefined,
      {
        cause: error,
      },
    );
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Names of migrations known to this build but not applied to the database. */
export async function pendingMigrations(store: Store): Promise<string[]> {
  const all = await migrator(store).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/**
 * Applies the migrations up to and including `migrationName` and no further (tests upgrade a database from
 * each earlier schema); fails if the database is already past it. Returns the names applied.
 */
export async function migrateTo(store: Store, migrationName: string): Promise<string[]> {
  const all = await migrator(store).getMigrations();
  const target = all.findIndex((m) => m.name === migrationName);
  if (target < 0) throw new Error(`no migration named ${migrationName}`);
  // Kysely would "migrate down" by skipping migrations without a down(), which none of ours has.
  const applied = all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
  if (applied.some((name) => name > migrationName)) {
    throw new Error(`the database is past ${migrationName} (at ${applied.at(-1)}); migrations never go down`);
  }
  const { error, results } = await migrator(store).migrateTo(migrationName);
  if (error) throw error;
  const failed = (results ?? []).find((r) => r.status === "Error");
  if (failed) throw new Error(`migration ${failed.migrationName} failed`);
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Every migration's name, oldest first. */
export function migrationNames(dialect: DialectName): string[] {
  return Object.keys(migrations(dialect)).sort();
}
