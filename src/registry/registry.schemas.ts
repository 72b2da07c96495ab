import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { DATATYPES } from "../core/index.js";

/**
 * Input and output shapes of the registry, in TypeBox: the same objects validate HTTP bodies,
 * type the services and generate the OpenAPI document.
 */

export const NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$";
/** Alias names must not look like version numbers, so `versions/{ref}` can take either. */
export const ALIAS_PATTERN = "^[a-z][a-z0-9_-]{0,62}$";
const KEY_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,249}$";

export const Name = Type.String({
  pattern: NAME_PATTERN,
  description: "letters, digits, '.', '_', '-'; at most 200",
});
export const AliasName = Type.String({
  pattern: ALIAS_PATTERN,
  description: "lower-case letter first; not a number",
});
export const Description = Type.String({ maxLength: 10_000 });
export const Key = Type.String({ pattern: KEY_PATTERN });
export const Tags = Type.Record(Type.String({ pattern: KEY_PATTERN }), Type.String({ maxLength: 5_000 }), {
  maxProperties: 200,
});
export const Params = Tags;
export const Metrics = Type.Record(Type.String({ pattern: KEY_PATTERN }), Type.Number(), {
  maxProperties: 500,
});
export const Digest = Type.String({ pattern: "^sha256:[0-9a-f]{64}$" });

export { DATATYPES };

export const TensorSpec = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    datatype: Type.Union(DATATYPES.map((d) => Type.Literal(d))),
    shape: Type.Array(Type.Integer({ minimum: -1 }), {
      maxItems: 16,
      description: "-1 marks a variable dimension",
    }),
  },
  { additionalProperties: false },
);
export type TensorSpec = Static<typeof TensorSpec>;

export const Signature = Type.Object(
  {
    inputs: Type.Array(TensorSpec, { maxItems: 1_000 }),
    outputs: Type.Array(TensorSpec, { maxItems: 1_000 }),
  },
  { additionalProperties: false },
);
export type Signature = Static<typeof Signature>;

export const VERSION_STATUSES = ["ready", "pending", "failed", "flagged", "deprecated"] as const;
export const VersionStatus = Type.Union(VERSION_STATUSES.map((s) => Type.Literal(s)));
export type VersionStatus = (typeof VERSION_STATUSES)[number];

export const ArtifactRef = Type.Union([
  Type.Object({ digest: Digest }, { additionalProperties: false }),
  Type.Object({ base64: Type.String({ contentEncoding: "base64" }) }, { additionalProperties: false }),
  Type.Object({ json: Type.Unknown() }, { additionalProperties: false }),
]);
export type ArtifactRef = Static<typeof ArtifactRef>;

export const LineageInput = Type.Object(
  {
    datasetVersionId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    runId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    parentVersionId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    sourceRef: Type.Optional(Type.String({ minLength: 1, maxLength: 2_000 })),
  },
  { additionalProperties: false },
);
export type LineageInput = Static<typeof LineageInput>;

export const CreateProjectInput = Type.Object(
  { name: Name, description: Type.Optional(Description) },
  { additionalProperties: false },
);
export type CreateProjectInput = Static<typeof CreateProjectInput>;

export const CreateModelInput = Type.Object(
  {
    name: Name,
    description: Type.Optional(Description),
    fleet: Type.Optional(Name),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);
export type CreateModelInput = Static<typeof CreateModelInput>;

export const UpdateModelInput = Type.Object(
  {
    description: Type.Optional(Description),
    fleet: Type.Optional(Type.Union([Name, Type.Null()])),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateModelInput = Static<typeof UpdateModelInput>;

export const CreateVersionInput = Type.Object(
  {
    runtime: Type.String({ pattern: "^[a-z][a-z0-9._-]{0,63}$", description: "e.g. onnx, skala.forecast" }),
    artifact: ArtifactRef,
    signature: Type.Optional(Signature),
    params: Type.Optional(Params),
    metrics: Type.Optional(Metrics),
    tags: Type.Optional(Tags),
    lineage: Type.Optional(LineageInput),
    status: Type.Optional(VersionStatus),
    description: Type.Optional(Description),
  },
  { additionalProperties: false },
);
export type CreateVersionInput = Static<typeof CreateVersionInput>;

export const UpdateVersionInput = Type.Object(
  {
    status: Type.Optional(VersionStatus),
    description: Type.Optional(Description),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateVersionInput = Static<typeof UpdateVersionInput>;

export const BulkRegisterInput = Type.Object(
  {
    createModels: Type.Optional(Type.Boolean({ default: true })),
    versions: Type.Array(
      Type.Object(
        {
          model: Name,
          fleet: Type.Optional(Name),
          aliases: Type.Optional(Type.Array(AliasName, { maxItems: 10, uniqueItems: true })),
          runtime: CreateVersionInput.properties.runtime,
          artifact: ArtifactRef,
          signature: Type.Optional(Signature),
          params: Type.Optional(Params),
          metrics: Type.Optional(Metrics),
          tags: Type.Optional(Tags),
          lineage: Type.Optional(LineageInput),
          status: Type.Optional(VersionStatus),
          description: Type.Optional(Description),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);
export type BulkRegisterInput = Static<typeof BulkRegisterInput>;
export type BulkVersionInput = BulkRegisterInput["versions"][number];

export const SetAliasInput = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    reason: Type.Optional(Type.String({ maxLength: 2_000 })),
  },
  { additionalProperties: false },
);
export type SetAliasInput = Static<typeof SetAliasInput>;

export const RUN_STATUSES = ["running", "finished", "failed", "killed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const CreateRunInput = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    params: Type.Optional(Params),
    sourceRef: Type.Optional(Type.String({ minLength: 1, maxLength: 2_000 })),
  },
  { additionalProperties: false },
);
export type CreateRunInput = Static<typeof CreateRunInput>;

export const LogParamsInput = Type.Object({ params: Params }, { additionalProperties: false });

export const MetricPoint = Type.Object(
  {
    key: Key,
    value: Type.Number(),
    step: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
    timestamp: Type.Optional(Type.String({ format: "date-time" })),
  },
  { additionalProperties: false },
);
export type MetricPoint = Static<typeof MetricPoint>;
export const LogMetricsInput = Type.Object(
  { metrics: Type.Array(MetricPoint, { minItems: 1, maxItems: 10_000 }) },
  { additionalProperties: false },
);
export type LogMetricsInput = Static<typeof LogMetricsInput>;

export const FinishRunInput = Type.Object(
  { status: Type.Union([Type.Literal("finished"), Type.Literal("failed"), Type.Literal("killed")]) },
  { additionalProperties: false },
);
export type FinishRunInput = Static<typeof FinishRunInput>;

export const AttachArtifactInput = Type.Object(
  { name: Type.String({ pattern: "^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,499}$" }), digest: Digest },
  { additionalProperties: false },
);
export type AttachArtifactInput = Static<typeof AttachArtifactInput>;

export const RegisterDatasetInput = Type.Object(
  {
    digest: Digest,
    format: Type.Optional(Type.Literal("csv")),
  },
  { additionalProperties: false },
);
export type RegisterDatasetInput = Static<typeof RegisterDatasetInput>;

export const ListOrder = Type.Union([Type.Literal("asc"), Type.Literal("desc")]);

/** A version number or an alias: what a deployment route or shadow points at. */
export const VersionTarget = Type.String({
  pattern: "^([1-9][0-9]{0,8}|[a-z][a-z0-9_-]{0,62})$",
  description: "version number or alias",
});

export const EnvironmentNameSchema = Type.Union([
  Type.Literal("dev"),
  Type.Literal("test"),
  Type.Literal("prod"),
]);

export const DeploymentRouteSchema = Type.Object(
  {
    target: VersionTarget,
    weight: Type.Integer({ minimum: 0, maximum: 100, description: "share of traffic in percent" }),
  },
  { additionalProperties: false },
);
export type DeploymentRoute = Static<typeof DeploymentRouteSchema>;

export const SetDeploymentInput = Type.Object(
  {
    routes: Type.Array(DeploymentRouteSchema, {
      minItems: 1,
      maxItems: 10,
      description: "weights sum to 100; a request with an id always takes the same route",
    }),
    shadow: Type.Optional(
      Type.Union([VersionTarget, Type.Null()], {
        description: "gets a copy of every request; its answer is logged, never returned",
      }),
    ),
    pinned: Type.Optional(
      Type.Boolean({ description: "keep the route targets loaded (never evicted); default true in prod" }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 1_000 })),
  },
  { additionalProperties: false },
);
export type SetDeploymentInput = Static<typeof SetDeploymentInput>;

// --- Responses. The types of src/registry/registry.types.ts are these schemas' Static types, so what the
// services return, what the routes serialize and what the OpenAPI document promises are one definition.

const Timestamp = Type.String({ format: "date-time" });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const StringMap = Type.Record(Type.String(), Type.String());
const NumberMap = Type.Record(Type.String(), Type.Number());

export const Project = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    environments: Type.Array(EnvironmentNameSchema),
    createdAt: Timestamp,
  },
  { title: "Project" },
);
export type Project = Static<typeof Project>;

export const RegisteredModel = Type.Object(
  {
    id: Type.String(),
    project: Type.String(),
    name: Type.String(),
    description: Type.String(),
    fleet: Nullable(Type.String()),
    tags: StringMap,
    latestVersion: Type.Integer({ description: "0 before the first version" }),
    archived: Type.Boolean(),
    archivedAt: Nullable(Timestamp),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: "RegisteredModel" },
);
export type RegisteredModel = Static<typeof RegisteredModel>;

export const Lineage = Type.Object(
  {
    datasetVersionId: Nullable(Type.String()),
    runId: Nullable(Type.String()),
    parentVersionId: Nullable(Type.String()),
    sourceRef: Nullable(Type.String()),
  },
  { title: "Lineage" },
);
export type Lineage = Static<typeof Lineage>;

export const ModelVersion = Type.Object(
  {
    id: Type.String(),
    model: Type.String(),
    version: Type.Integer(),
    runtime: Type.String(),
    artifact: Type.Object({ digest: Type.String(), size: Type.Integer() }),
    signature: Nullable(Signature),
    params: StringMap,
    metrics: NumberMap,
    tags: StringMap,
    status: VersionStatus,
    description: Type.String(),
    lineage: Lineage,
    aliases: Type.Array(Type.String()),
    createdAt: Timestamp,
  },
  { title: "ModelVersion" },
);
export type ModelVersion = Static<typeof ModelVersion>;

export const AliasAssignment = Type.Object(
  { alias: Type.String(), version: Type.Integer(), versionId: Type.String(), updatedAt: Timestamp },
  { title: "AliasAssignment" },
);
export type AliasAssignment = Static<typeof AliasAssignment>;

export const AliasChange = Type.Object(
  {
    alias: Type.String(),
    fromVersion: Nullable(Type.Integer()),
    toVersion: Nullable(Type.Integer()),
    changedAt: Timestamp,
    reason: Type.String(),
  },
  { title: "AliasChange" },
);
export type AliasChange = Static<typeof AliasChange>;

export const RunMetric = Type.Object(
  { key: Type.String(), value: Type.Number(), step: Type.Integer(), timestamp: Timestamp },
  { title: "RunMetric" },
);
export type RunMetric = Static<typeof RunMetric>;

export const RunArtifact = Type.Object(
  { name: Type.String(), digest: Type.String(), size: Type.Integer(), createdAt: Timestamp },
  { title: "RunArtifact" },
);
export type RunArtifact = Static<typeof RunArtifact>;

export const Run = Type.Object(
  {
    id: Type.String(),
    project: Type.String(),
    name: Type.String(),
    status: Type.Union(RUN_STATUSES.map((s) => Type.Literal(s))),
    startedAt: Timestamp,
    endedAt: Nullable(Timestamp),
    sourceRef: Nullable(Type.String()),
    params: StringMap,
    latestMetrics: Type.Record(Type.String(), Type.Number(), {
      description: "latest value of each metric key",
    }),
    artifacts: Type.Array(RunArtifact),
  },
  { title: "Run" },
);
export type Run = Static<typeof Run>;

export const COLUMN_TYPES = ["integer", "number", "boolean", "date", "string", "empty"] as const;
export const ColumnSchema = Type.Object(
  {
    name: Type.String(),
    type: Type.Union(COLUMN_TYPES.map((t) => Type.Literal(t))),
    nullable: Type.Boolean(),
  },
  { title: "ColumnSchema" },
);
export type ColumnSchema = Static<typeof ColumnSchema>;

export const DatasetVersion = Type.Object(
  {
    id: Type.String(),
    dataset: Type.String(),
    version: Type.Integer(),
    digest: Type.String(),
    size: Type.Integer(),
    format: Type.Literal("csv"),
    rows: Type.Integer(),
    schema: Type.Array(ColumnSchema),
    createdAt: Timestamp,
  },
  { title: "DatasetVersion" },
);
export type DatasetVersion = Static<typeof DatasetVersion>;

export const Dataset = Type.Object(
  {
    id: Type.String(),
    project: Type.String(),
    name: Type.String(),
    latestVersion: Type.Integer(),
    createdAt: Timestamp,
  },
  { title: "Dataset" },
);
export type Dataset = Static<typeof Dataset>;

export const Deployment = Type.Object(
  {
    project: Type.String(),
    environment: EnvironmentNameSchema,
    model: Type.String(),
    routes: Type.Array(DeploymentRouteSchema),
    shadow: Nullable(Type.String()),
    pinned: Type.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: "Deployment", description: "how one environment serves a model" },
);
export type Deployment = Static<typeof Deployment>;

export const RegisteredVersion = Type.Object(
  { id: Type.String(), model: Type.String(), version: Type.Integer(), digest: Type.String() },
  { title: "RegisteredVersion" },
);

export const BulkRegisterResult = Type.Object(
  { count: Type.Integer(), versions: Type.Array(RegisteredVersion) },
  { title: "BulkRegisterResult" },
);

export const StoredArtifact = Type.Object(
  {
    digest: Type.String(),
    size: Type.Integer(),
    created: Type.Boolean({ description: "false when the same bytes were stored before" }),
  },
  { title: "StoredArtifact" },
);

export const LoggedMetrics = Type.Object({ logged: Type.Integer() }, { title: "LoggedMetrics" });

/** One page of a list; pass `nextCursor` back to get the next page (null at the end). */
export const PageOf = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) });

/** A whole list, unpaged. */
export const ItemsOf = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item) });
