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
}
