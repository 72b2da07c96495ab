import { type Static, Type } from "@sinclair/typebox";
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
