import type { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import { defineApi } from "../core/index.js";
import {
  AliasAssignment,
  AliasChange,
  AliasName,
  AttachArtifactInput,
  BulkRegisterInput,
  BulkRegisterResult,
  CreateModelInput,
  CreateProjectInput,
  CreateRunInput,
  CreateVersionInput,
  Dataset,
  DatasetVersion,
  Deployment,
  EnvironmentNameSchema,
  FinishRunInput,
  ItemsOf,
  ListOrder,
  LoggedMetrics,
  LogMetricsInput,
  LogParamsInput,
  ModelVersion,
  Name,
  PageOf,
  Project,
  RegisterDatasetInput,
  RegisteredModel,
  Run,
  RunMetric,
  SetAliasInput,
  SetDeploymentInput,
  StoredArtifact,
  UpdateModelInput,
  UpdateVersionInput,
} from "./registry.schemas.js";

/**
 * The registry's HTTP operations under /api/v1, each named once: registry.routes.ts registers its routes
 * from these entries and the CLI's client takes its request and result types from them.
 */

const ProjectParams = Type.Object({ project: Name });
const ModelParams = Type.Object({ project: Name, model: Name });
const VersionParams = Type.Object({
  project: Name,
  model: Name,
  ref: Type.String({
    pattern: "^([0-9]{1,9}|[a-z][a-z0-9_-]{0,62})$",
    description: "version number or alias",
  }),
});
const AliasParams = Type.Object({ project: Name, model: Name, alias: AliasName });
const EnvironmentParams = Type.Object({ project: Name, environment: EnvironmentNameSchema });
const DeploymentParams = Type.Object({ project: Name, environment: EnvironmentNameSchema, model: Name });
const RunParams = Type.Object({ project: Name, run: Type.String({ minLength: 1, maxLength: 100 }) });
const DatasetParams = Type.Object({ project: Name, dataset: Name });
const Paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  cursor: Type.Optional(Type.String({ maxLength: 4_096 })),
};
const ModelListQuery = Type.Object(
  {
    prefix: Type.Optional(Type.String({ maxLength: 200 })),
    fleet: Type.Optional(Name),
    tag: Type.Optional(
      Type.Array(Type.String({ pattern: "^[^=]+=.*$", maxLength: 5_300 }), {
        maxItems: 20,
        description: "key=value",
      }),
    ),
    archived: Type.Optional(
      Type.Union([Type.Literal("exclude"), Type.Literal("only"), Type.Literal("include")]),
    ),
    sort: Type.Optional(
      Type.Union([Type.Literal("name"), Type.Literal("createdAt"), Type.Literal("updatedAt")]),
    ),
    order: Type.Optional(ListOrder),
    ...Paging,
  },
  { additionalProperties: false },
);
const SearchQuery = Type.Object(
  { filter: Type.Optional(Type.String({ maxLength: 4_096 })), order: Type.Optional(ListOrder), ...Paging },
  { additionalProperties: false },
);
const PageQuery = Type.Object(
  { order: Type.Optional(ListOrder), ...Paging },
  { additionalProperties: false },
);

const ok = <T>(schema: T) => ({ 200: schema });
const created = <T>(schema: T) => ({ 201: schema });
const noContent = { 204: Type.Null({ description: "no body" }) };

export const registryApi = defineApi({
  // --- projects
  createProject: {
    method: "POST",
    path: "/projects",
    tag: "projects",
    summary: "Create a project",
    body: CreateProjectInput,
    response: created(Project),
  },
  listProjects: {
    method: "GET",
    path: "/projects",
    tag: "projects",
    summary: "List projects",
    response: ok(ItemsOf(Project)),
  },
  getProject: {
    method: "GET",
    path: "/projects/:project",
    tag: "projects",
    summary: "Get a project",
    params: ProjectParams,
    response: ok(Project),
  },

  // --- registered models
  createModel: {
    method: "POST",
    path: "/projects/:project/models",
    tag: "models",
    summary: "Register a model",
    params: ProjectParams,
    body: CreateModelInput,
    response: created(RegisteredModel),
  },
  listModels: {
    method: "GET",
    path: "/projects/:project/models",
    tag: "models",
    summary: "List registered models, filtered by name prefix, fleet, tags or archive state",
    params: ProjectParams,
    querystring: ModelListQuery,
    response: ok(PageOf(RegisteredModel)),
  },
  getModel: {
    method: "GET",
    path: "/projects/:project/models/:model",
    tag: "models",
    summary: "Get a registered model",
    params: ModelParams,
    response: ok(RegisteredModel),
  },
  updateModel: {
    method: "PATCH",
    path: "/projects/:project/models/:model",
    tag: "models",
    summary: "Change a model's description, fleet or tags",
    params: ModelParams,
    body: UpdateModelInput,
    response: ok(RegisteredModel),
  },
  archiveModel: {
    method: "POST",
    path: "/projects/:project/models/:model/archive",
    tag: "models",
    summary: "Archive a model",
    params: ModelParams,
    response: ok(RegisteredModel),
  },
  restoreModel: {
    method: "POST",
    path: "/projects/:project/models/:model/restore",
    tag: "models",
    summary: "Restore an archived model",
    params: ModelParams,
    response: ok(RegisteredModel),
  },

  // --- versions
  createVersion: {
    method: "POST",
    path: "/projects/:project/models/:model/versions",
    tag: "versions",
    summary: "Register a model version",
    params: ModelParams,
    body: CreateVersionInput,
    response: created(ModelVersion),
  },
  listVersions: {
    method: "GET",
    path: "/projects/:project/models/:model/versions",
    tag: "versions",
    summary: "List a model's versions",
    params: ModelParams,
    querystring: PageQuery,
    response: ok(PageOf(ModelVersion)),
  },
  getVersion: {
    method: "GET",
    path: "/projects/:project/models/:model/versions/:ref",
    tag: "versions",
    summary: "Get a version by number or alias",
    params: VersionParams,
    response: ok(ModelVersion),
  },
  updateVersion: {
    method: "PATCH",
    path: "/projects/:project/models/:model/versions/:ref",
    tag: "versions",
    summary: "Change a version's status, description or tags",
    params: VersionParams,
    body: UpdateVersionInput,
    response: ok(ModelVersion),
  },
  searchVersions: {
    method: "GET",
    path: "/projects/:project/versions",
    tag: "versions",
    summary: "Search versions with a filter expression (docs/reference/filter-language.md)",
    params: ProjectParams,
    querystring: SearchQuery,
    response: ok(PageOf(ModelVersion)),
  },
  searchVersionsByBody: {
    method: "POST",
    path: "/projects/:project/versions/search",
    tag: "versions",
    summary: "Search versions, the filter in the body",
    params: ProjectParams,
    body: SearchQuery,
    response: ok(PageOf(ModelVersion)),
  },
  resolveReference: {
    method: "GET",
    path: "/projects/:project/resolve/:reference",
    tag: "aliases",
    summary: "Resolve model@alias or model@version to a version",
    params: Type.Object({ project: Name, reference: Type.String({ minLength: 1, maxLength: 300 }) }),
    response: ok(ModelVersion),
  },
  bulkRegisterVersions: {
    method: "POST",
    path: "/projects/:project/bulk/versions",
    tag: "versions",
    summary: "Register many versions in one transaction (all or nothing)",
    params: ProjectParams,
    body: BulkRegisterInput,
    response: created(BulkRegisterResult),
  },

  // --- deployments
  listDeployments: {
    method: "GET",
    path: "/projects/:project/environments/:environment/deployments",
    tag: "deployments",
    summary: "List the deployments of an environment",
    params: EnvironmentParams,
    response: ok(ItemsOf(Deployment)),
  },
  getDeployment: {
    method: "GET",
    path: "/projects/:project/environments/:environment/deployments/:model",
    tag: "deployments",
    summary: "Get how an environment serves a model",
    params: DeploymentParams,
    response: ok(Deployment),
  },
  setDeployment: {
    method: "PUT",
    path: "/projects/:project/environments/:environment/deployments/:model",
    tag: "deployments",
    summary: "Set a model's traffic split and shadow in an environment",
    params: DeploymentParams,
    body: SetDeploymentInput,
    response: ok(Deployment),
  },
  deleteDeployment: {
    method: "DELETE",
    path: "/projects/:project/environments/:environment/deployments/:model",
    tag: "deployments",
    summary: "Remove a model's deployment from an environment",
    params: DeploymentParams,
    response: noContent,
  },

  // --- aliases
  listAliases: {
    method: "GET",
    path: "/projects/:project/models/:model/aliases",
    tag: "aliases",
    summary: "List a model's aliases",
    params: ModelParams,
    response: ok(ItemsOf(AliasAssignment)),
  },
  getAlias: {
    method: "GET",
    path: "/projects/:project/models/:model/aliases/:alias",
    tag: "aliases",
    summary: "Get the version an alias points at",
    params: AliasParams,
    response: ok(AliasAssignment),
  },
  setAlias: {
    method: "PUT",
    path: "/projects/:project/models/:model/aliases/:alias",
    tag: "aliases",
    summary: "Point an alias at a version",
    params: AliasParams,
    body: SetAliasInput,
    response: ok(AliasAssignment),
  },
  deleteAlias: {
    method: "DELETE",
    path: "/projects/:project/models/:model/aliases/:alias",
    tag: "aliases",
    summary: "Remove an alias",
    params: AliasParams,
    response: noContent,
  },
  listAliasHistory: {
    method: "GET",
    path: "/projects/:project/models/:model/alias-history",
    tag: "aliases",
    summary: "The history of a model's aliases, newest first",
    params: ModelParams,
    querystring: Type.Object(
      {
        alias: Type.Optional(AliasName),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
      },
      { additionalProperties: false },
    ),
    response: ok(ItemsOf(AliasChange)),
  },

  // --- runs
  createRun: {
    method: "POST",
    path: "/projects/:project/runs",
    tag: "runs",
    summary: "Start a run",
    params: ProjectParams,
    body: CreateRunInput,
    response: created(Run),
  },
  listRuns: {
    method: "GET",
    path: "/projects/:project/runs",
    tag: "runs",
    summary: "List runs",
    params: ProjectParams,
    querystring: Type.Object(Paging, { additionalProperties: false }),
    response: ok(PageOf(Run)),
  },
  getRun: {
    method: "GET",
    path: "/projects/:project/runs/:run",
    tag: "runs",
    summary: "Get a run",
    params: RunParams,
    response: ok(Run),
  },
  logRunParams: {
    method: "POST",
    path: "/projects/:project/runs/:run/params",
    tag: "runs",
    summary: "Log parameters on a run",
    params: RunParams,
    body: LogParamsInput,
    response: ok(Run),
  },
  logRunMetrics: {
    method: "POST",
    path: "/projects/:project/runs/:run/metrics",
    tag: "runs",
    summary: "Log metric points on a run",
    params: RunParams,
    body: LogMetricsInput,
    response: ok(LoggedMetrics),
  },
  getRunMetricHistory: {
    method: "GET",
    path: "/projects/:project/runs/:run/metrics/:key",
    tag: "runs",
    summary: "Every logged point of one metric of a run",
    params: Type.Object({ ...RunParams.properties, key: Type.String({ minLength: 1, maxLength: 250 }) }),
    response: ok(ItemsOf(RunMetric)),
  },
  attachRunArtifact: {
    method: "POST",
    path: "/projects/:project/runs/:run/artifacts",
    tag: "runs",
    summary: "Attach a stored artifact to a run",
    params: RunParams,
    body: AttachArtifactInput,
    response: ok(Run),
  },
  finishRun: {
    method: "POST",
    path: "/projects/:project/runs/:run/finish",
    tag: "runs",
    summary: "Finish a run",
    params: RunParams,
    body: FinishRunInput,
    response: ok(Run),
  },

  // --- datasets
  listDatasets: {
    method: "GET",
    path: "/projects/:project/datasets",
    tag: "datasets",
    summary: "List datasets",
    params: ProjectParams,
    response: ok(ItemsOf(Dataset)),
  },
  registerDatasetVersion: {
    method: "POST",
    path: "/projects/:project/datasets/:dataset/versions",
    tag: "datasets",
    summary: "Register an uploaded CSV as a dataset version (profiled)",
    params: DatasetParams,
    body: RegisterDatasetInput,
    response: created(DatasetVersion),
  },
  listDatasetVersions: {
    method: "GET",
    path: "/projects/:project/datasets/:dataset/versions",
    tag: "datasets",
    summary: "List a dataset's versions",
    params: DatasetParams,
    response: ok(ItemsOf(DatasetVersion)),
  },
  getDatasetVersion: {
    method: "GET",
    path: "/projects/:project/datasets/:dataset/versions/:version",
    tag: "datasets",
    summary: "Get a dataset version",
    params: Type.Object({ ...DatasetParams.properties, version: Type.Integer({ minimum: 1 }) }),
    response: ok(DatasetVersion),
  },

  // --- artifacts
  uploadArtifact: {
    method: "POST",
    path: "/artifacts",
    tag: "artifacts",
    summary: "Upload raw bytes to the content-addressed store",
    description:
      "Upload raw bytes (any content type). Optional header x-skala-digest: the expected sha256 digest. " +
      "201 when the bytes are new, 200 when they were stored before.",
    headers: Type.Object({
      "x-skala-digest": Type.Optional(Type.String({ description: "expected digest, sha256:<hex>" })),
    }),
    rawBody: true,
    response: { 200: StoredArtifact, 201: StoredArtifact },
  },
  downloadArtifact: {
    method: "GET",
    path: "/artifacts/:digest",
    tag: "artifacts",
    summary: "Download an artifact's bytes",
    params: Type.Object({ digest: Type.String({ maxLength: 100 }) }),
    response: {
      200: {
        description: "the blob's bytes",
        content: {
          "application/octet-stream": {
            schema: Type.Unsafe<Buffer | Readable>({ type: "string", format: "binary" }),
          },
        },
      },
    },
  },
});
