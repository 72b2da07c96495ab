import type { DeploymentRoute, RunStatus, Signature, VersionStatus } from "./registry.schemas.js";

export const ENVIRONMENTS = ["dev", "test", "prod"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

export interface Project {
  id: string;
  name: string;
  description: string;
  environments: EnvironmentName[];
  createdAt: string;
}

export interface RegisteredModel {
  id: string;
  project: string;
  name: string;
  description: string;
  fleet: string | null;
  tags: Record<string, string>;
  latestVersion: number;
  archived: boolean;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Lineage {
  datasetVersionId: string | null;
  runId: string | null;
  parentVersionId: string | null;
  sourceRef: string | null;
}

export interface ModelVersion {
  id: string;
  model: string;
  version: number;
  runtime: string;
  artifact: { digest: string; size: number };
  signature: Signature | null;
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  status: VersionStatus;
  description: string;
  lineage: Lineage;
  aliases: string[];
  createdAt: string;
}

export interface AliasAssignment {
  alias: string;
  version: number;
  versionId: string;
  updatedAt: string;
}

export interface AliasChange {
  alias: string;
  fromVersion: number | null;
  toVersion: number | null;
  changedAt: string;
  reason: string;
}

export interface RunMetric {
  key: string;
  value: number;
  step: number;
  timestamp: string;
}

export interface RunArtifact {
  name: string;
  digest: string;
  size: number;
  createdAt: string;
}

export interface Run {
  id: string;
  project: string;
  name: string;
  status: RunStatus;
  startedAt: string;
  endedAt: string | null;
  sourceRef: string | null;
  params: Record<string, string>;
  /** Latest value of each metric key. */
  latestMetrics: Record<string, number>;
  artifacts: RunArtifact[];
}

export interface ColumnSchema {
  name: string;
  type: "integer" | "number" | "boolean" | "date" | "string" | "empty";
  nullable: boolean;
}

export interface DatasetVersion {
  id: string;
  dataset: string;
  version: number;
  digest: string;
  size: number;
  format: "csv";
  rows: number;
  schema: ColumnSchema[];
  createdAt: string;
}

export interface Dataset {
  id: string;
  project: string;
  name: string;
  latestVersion: number;
  createdAt: string;
}

/** One page of a list; pass `nextCursor` back to get the next page (null at the end). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** How one environment serves a model: traffic split over versions or aliases, and an optional shadow. */
export interface Deployment {
  project: string;
  environment: EnvironmentName;
  model: string;
  routes: DeploymentRoute[];
  shadow: string | null;
  pinned: boolean;
  createdAt: string;
  updatedAt: string;
}
