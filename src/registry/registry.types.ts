/**
 * The registry's domain objects. Each is the Static type of its response schema in registry.schemas.ts
 * (schema first): the services return them, the routes serialize them with the same schema, and the OpenAPI
 * document describes them, so the three cannot drift apart.
 */
export type {
  AliasAssignment,
  AliasChange,
  ColumnSchema,
  Dataset,
  DatasetVersion,
  Deployment,
  Lineage,
  ModelVersion,
  Project,
  RegisteredModel,
  Run,
  RunArtifact,
  RunMetric,
} from "./registry.schemas.js";

export const ENVIRONMENTS = ["dev", "test", "prod"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

/** One page of a list; pass `nextCursor` back to get the next page (null at the end). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
