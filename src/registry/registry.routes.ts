import { Readable } from "node:stream";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { type TSchema, Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { parseDigest } from "../artifacts/index.js";
import { SkalaError } from "../core/index.js";
import type { Registry } from "./registry.js";
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
import { parseVersionRef } from "./version.service.js";

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

function tagsFromQuery(tags: string[] | undefined): Record<string, string> | undefined {
  if (!tags) return undefined;
  return Object.fromEntries(
    tags.map((pair) => {
      const at = pair.indexOf("=");
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

const VERIFY_BEFORE_SEND_BYTES = 64 * 1024 * 1024;

/** OpenAPI tag, operationId (what a generated client names the call) and summary of a route. */
const op = (tag: string, operationId: string, summary: string) => ({ tags: [tag], operationId, summary });
const ok = <T extends TSchema>(schema: T) => ({ response: { 200: schema } });
const created = <T extends TSchema>(schema: T) => ({ response: { 201: schema } });
const noContent = { response: { 204: Type.Null({ description: "no body" }) } };

/** Registry endpoints under /api/v1: each route parses, makes one service call, responds. */
export const registryRoutes: FastifyPluginAsync<{ registry: Registry }> = async (plugin, { registry }) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { projects, models, versions, runs, datasets, deployments, artifacts } = registry;

  // --- projects
  app.post(
    "/projects",
    {
      schema: {
        ...op("projects", "createProject", "Create a project"),
        body: CreateProjectInput,
        ...created(Project),
      },
    },
    async (req, reply) => reply.status(201).send(await projects.create(req.body)),
  );
  app.get(
    "/projects",
    { schema: { ...op("projects", "listProjects", "List projects"), ...ok(ItemsOf(Project)) } },
    async () => ({
      items: await projects.list(),
    }),
  );
  app.get(
    "/projects/:project",
    { schema: { ...op("projects", "getProject", "Get a project"), params: ProjectParams, ...ok(Project) } },
    async (req) => projects.get(req.params.project),
  );

  // --- registered models
  app.post(
    "/projects/:project/models",
    {
      schema: {
        ...op("models", "createModel", "Register a model"),
        params: ProjectParams,
        body: CreateModelInput,
        ...created(RegisteredModel),
      },
    },
    async (req, reply) => reply.status(201).send(await models.create(req.params.project, req.body)),
  );
  app.get(
    "/projects/:project/models",
    {
      schema: {
        ...op(
          "models",
          "listModels",
          "List registered models, filtered by name prefix, fleet, tags or archive state",
        ),
        params: ProjectParams,
        querystring: ModelListQuery,
        ...ok(PageOf(RegisteredModel)),
      },
    },
    async (req) => {
      const q = req.query;
      return models.list(req.params.project, {
        ...(q.prefix !== undefined && { namePrefix: q.prefix }),
        ...(q.fleet !== undefined && { fleet: q.fleet }),
        ...(q.tag !== undefined && { tags: tagsFromQuery(q.tag) as Record<string, string> }),
        ...(q.archived !== undefined && { archived: q.archived }),
        ...(q.sort !== undefined && { sort: q.sort }),
        ...(q.order !== undefined && { order: q.order }),
        ...(q.limit !== undefined && { limit: q.limit }),
        ...(q.cursor !== undefined && { cursor: q.cursor }),
      });
    },
  );
  app.get(
    "/projects/:project/models/:model",
    {
      schema: {
        ...op("models", "getModel", "Get a registered model"),
        params: ModelParams,
        ...ok(RegisteredModel),
      },
    },
    async (req) => models.get(req.params.project, req.params.model),
  );
  app.patch(
    "/projects/:project/models/:model",
    {
      schema: {
        ...op("models", "updateModel", "Change a model's description, fleet or tags"),
        params: ModelParams,
        body: UpdateModelInput,
        ...ok(RegisteredModel),
      },
    },
    async (req) => models.update(req.params.project, req.params.model, req.body),
  );
  app.post(
    "/projects/:project/models/:model/archive",
    {
      schema: {
        ...op("models", "archiveModel", "Archive a model"),
        params: ModelParams,
        ...ok(RegisteredModel),
      },
    },
    async (req) => models.archive(req.params.project, req.params.model),
  );
  app.post(
    "/projects/:project/models/:model/restore",
    {
      schema: {
        ...op("models", "restoreModel", "Restore an archived model"),
        params: ModelParams,
        ...ok(RegisteredModel),
      },
    },
    async (req) => models.restore(req.params.project, req.params.model),
  );

  // --- versions
  app.post(
    "/projects/:project/models/:model/versions",
    {
      schema: {
        ...op("versions", "createVersion", "Register a model version"),
        params: ModelParams,
        body: CreateVersionInput,
        ...created(ModelVersion),
      },
    },
    async (req, reply) =>
      reply.status(201).send(await versions.create(req.params.project, req.params.model, req.body)),
  );
  app.get(
    "/projects/:project/models/:model/versions",
    {
      schema: {
        ...op("versions", "listVersions", "List a model's versions"),
        params: ModelParams,
        querystring: PageQuery,
        ...ok(PageOf(ModelVersion)),
      },
    },
    async (req) => versions.list(req.params.project, req.params.model, req.query),
  );
  app.get(
    "/projects/:project/models/:model/versions/:ref",
    {
      schema: {
        ...op("versions", "getVersion", "Get a version by number or alias"),
        params: VersionParams,
        ...ok(ModelVersion),
      },
    },
    async (req) => versions.get(req.params.project, req.params.model, parseVersionRef(req.params.ref)),
  );
  app.patch(
    "/projects/:project/models/:model/versions/:ref",
    {
      schema: {
        ...op("versions", "updateVersion", "Change a version's status, description or tags"),
        params: VersionParams,
        body: UpdateVersionInput,
        ...ok(ModelVersion),
      },
    },
    async (req) =>
      versions.update(req.params.project, req.params.model, parseVersionRef(req.params.ref), req.body),
  );
  app.get(
    "/projects/:project/versions",
    {
      schema: {
        ...op(
          "versions",
          "searchVersions",
          "Search versions with a filter expression (docs/reference/filter-language.md)",
        ),
        params: ProjectParams,
        querystring: SearchQuery,
        ...ok(PageOf(ModelVersion)),
      },
    },
    async (req) => versions.search(req.params.project, req.query),
  );
  app.post(
    "/projects/:project/versions/search",
    {
      schema: {
        ...op("versions", "searchVersionsByBody", "Search versions, the filter in the body"),
        params: ProjectParams,
        body: SearchQuery,
        ...ok(PageOf(ModelVersion)),
      },
    },
    async (req) => versions.search(req.params.project, req.body),
  );
  app.get(
    "/projects/:project/resolve/:reference",
    {
      schema: {
        ...op("aliases", "resolveReference", "Resolve model@alias or model@version to a version"),
        params: Type.Object({ project: Name, reference: Type.String({ minLength: 1, maxLength: 300 }) }),
        ...ok(ModelVersion),
      },
    },
    async (req) => versions.resolve(req.params.project, req.params.reference),
  );
  app.post(
    "/projects/:project/bulk/versions",
    {
      schema: {
        ...op(
          "versions",
          "bulkRegisterVersions",
          "Register many versions in one transaction (all or nothing)",
        ),
        params: ProjectParams,
        body: BulkRegisterInput,
        ...created(BulkRegisterResult),
      },
    },
    async (req, reply) => {
      const created = await versions.bulkRegister(req.params.project, req.body);
      return reply.status(201).send({ count: created.length, versions: created });
    },
  );

  // --- deployments
  app.get(
    "/projects/:project/environments/:environment/deployments",
    {
      schema: {
        ...op("deployments", "listDeployments", "List the deployments of an environment"),
        params: EnvironmentParams,
        ...ok(ItemsOf(Deployment)),
      },
    },
    async (req) => ({ items: await deployments.list(req.params.project, req.params.environment) }),
  );
  app.get(
    "/projects/:project/environments/:environment/deployments/:model",
    {
      schema: {
        ...op("deployments", "getDeployment", "Get how an environment serves a model"),
        params: DeploymentParams,
        ...ok(Deployment),
      },
    },
    async (req) => deployments.get(req.params.project, req.params.environment, req.params.model),
  );
  app.put(
    "/projects/:project/environments/:environment/deployments/:model",
    {
      schema: {
        ...op("deployments", "setDeployment", "Set a model's traffic split and shadow in an environment"),
        params: DeploymentParams,
        body: SetDeploymentInput,
        ...ok(Deployment),
      },
    },
    async (req) => deployments.set(req.params.project, req.params.environment, req.params.model, req.body),
  );
  app.delete(
    "/projects/:project/environments/:environment/deployments/:model",
    {
      schema: {
        ...op("deployments", "deleteDeployment", "Remove a model's deployment from an environment"),
        params: DeploymentParams,
        ...noContent,
      },
    },
    async (req, reply) => {
      await deployments.delete(req.params.project, req.params.environment, req.params.model);
      return reply.status(204).send(null);
    },
  );

  // --- aliases
  app.get(
    "/projects/:project/models/:model/aliases",
    {
      schema: {
        ...op("aliases", "listAliases", "List a model's aliases"),
        params: ModelParams,
        ...ok(ItemsOf(AliasAssignment)),
      },
    },
    async (req) => ({
      items: await versions.listAliases(req.params.project, req.params.model),
    }),
  );
  app.get(
    "/projects/:project/models/:model/aliases/:alias",
    {
      schema: {
        ...op("aliases", "getAlias", "Get the version an alias points at"),
        params: AliasParams,
        ...ok(AliasAssignment),
      },
    },
    async (req) => versions.alias(req.params.project, req.params.model, req.params.alias),
  );
  app.put(
    "/projects/:project/models/:model/aliases/:alias",
    {
      schema: {
        ...op("aliases", "setAlias", "Point an alias at a version"),
        params: AliasParams,
        body: SetAliasInput,
        ...ok(AliasAssignment),
      },
    },
    async (req) => versions.setAlias(req.params.project, req.params.model, req.params.alias, req.body),
  );
  app.delete(
    "/projects/:project/models/:model/aliases/:alias",
    { schema: { ...op("aliases", "deleteAlias", "Remove an alias"), params: AliasParams, ...noContent } },
    async (req, reply) => {
      await versions.deleteAlias(req.params.project, req.params.model, req.params.alias);
      return reply.status(204).send(null);
    },
  );
  app.get(
    "/projects/:project/models/:model/alias-history",
    {
      schema: {
        ...op("aliases", "listAliasHistory", "The history of a model's aliases, newest first"),
        params: ModelParams,
        querystring: Type.Object(
          {
            alias: Type.Optional(AliasName),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          },
          { additionalProperties: false },
        ),
        ...ok(ItemsOf(AliasChange)),
      },
    },
    async (req) => ({
      items: await versions.aliasHistory(
        req.params.project,
        req.params.model,
        req.query.alias,
        req.query.limit,
      ),
    }),
  );

  // --- runs
  app.post(
    "/projects/:project/runs",
    {
      schema: {
        ...op("runs", "createRun", "Start a run"),
        params: ProjectParams,
        body: CreateRunInput,
        ...created(Run),
      },
    },
    async (req, reply) => reply.status(201).send(await runs.create(req.params.project, req.body)),
  );
  app.get(
    "/projects/:project/runs",
    {
      schema: {
        ...op("runs", "listRuns", "List runs"),
        params: ProjectParams,
        querystring: Type.Object(Paging, { additionalProperties: false }),
        ...ok(PageOf(Run)),
      },
    },
    async (req) => runs.list(req.params.project, req.query),
  );
  app.get(
    "/projects/:project/runs/:run",
    { schema: { ...op("runs", "getRun", "Get a run"), params: RunParams, ...ok(Run) } },
    async (req) => runs.get(req.params.project, req.params.run),
  );
  app.post(
    "/projects/:project/runs/:run/params",
    {
      schema: {
        ...op("runs", "logRunParams", "Log parameters on a run"),
        params: RunParams,
        body: LogParamsInput,
        ...ok(Run),
      },
    },
    async (req) => runs.logParams(req.params.project, req.params.run, req.body.params),
  );
  app.post(
    "/projects/:project/runs/:run/metrics",
    {
      schema: {
        ...op("runs", "logRunMetrics", "Log metric points on a run"),
        params: RunParams,
        body: LogMetricsInput,
        ...ok(LoggedMetrics),
      },
    },
    async (req) => runs.logMetrics(req.params.project, req.params.run, req.body),
  );
  app.get(
    "/projects/:project/runs/:run/metrics/:key",
    {
      schema: {
        ...op("runs", "getRunMetricHistory", "Every logged point of one metric of a run"),
        params: Type.Object({ ...RunParams.properties, key: Type.String({ minLength: 1, maxLength: 250 }) }),
        ...ok(ItemsOf(RunMetric)),
      },
    },
    async (req) => ({ items: await runs.metricHistory(req.params.project, req.params.run, req.params.key) }),
  );
  app.post(
    "/projects/:project/runs/:run/artifacts",
    {
      schema: {
        ...op("runs", "attachRunArtifact", "Attach a stored artifact to a run"),
        params: RunParams,
        body: AttachArtifactInput,
        ...ok(Run),
      },
    },
    async (req) => runs.attachArtifact(req.params.project, req.params.run, req.body),
  );
  app.post(
    "/projects/:project/runs/:run/finish",
    {
      schema: {
        ...op("runs", "finishRun", "Finish a run"),
        params: RunParams,
        body: FinishRunInput,
        ...ok(Run),
      },
    },
    async (req) => runs.finish(req.params.project, req.params.run, req.body.status),
  );

  // --- datasets
  app.get(
    "/projects/:project/datasets",
    {
      schema: {
        ...op("datasets", "listDatasets", "List datasets"),
        params: ProjectParams,
        ...ok(ItemsOf(Dataset)),
      },
    },
    async (req) => ({
      items: await datasets.list(req.params.project),
    }),
  );
  app.post(
    "/projects/:project/datasets/:dataset/versions",
    {
      schema: {
        ...op(
          "datasets",
          "registerDatasetVersion",
          "Register an uploaded CSV as a dataset version (profiled)",
        ),
        params: DatasetParams,
        body: RegisterDatasetInput,
        ...created(DatasetVersion),
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(await datasets.registerVersion(req.params.project, req.params.dataset, req.body)),
  );
  app.get(
    "/projects/:project/datasets/:dataset/versions",
    {
      schema: {
        ...op("datasets", "listDatasetVersions", "List a dataset's versions"),
        params: DatasetParams,
        ...ok(ItemsOf(DatasetVersion)),
      },
    },
    async (req) => ({
      items: await datasets.versions(req.params.project, req.params.dataset),
    }),
  );
  app.get(
    "/projects/:project/datasets/:dataset/versions/:version",
    {
      schema: {
        ...op("datasets", "getDatasetVersion", "Get a dataset version"),
        params: Type.Object({ ...DatasetParams.properties, version: Type.Integer({ minimum: 1 }) }),
        ...ok(DatasetVersion),
      },
    },
    async (req) => datasets.version(req.params.project, req.params.dataset, req.params.version),
  );

  // --- artifacts: raw bytes in, streamed to the content-addressed store with the size limit enforced while reading.
  app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    raw.post(
      "/artifacts",
      {
        // Streamed to the blob store, never buffered: its bytes do not count against the body budget.
        config: { streamsBody: true },
        schema: {
          ...op("artifacts", "uploadArtifact", "Upload raw bytes to the content-addressed store"),
          description:
            "Upload raw bytes (any content type). Optional header x-skala-digest: the expected sha256 digest. " +
            "201 when the bytes are new, 200 when they were stored before.",
          headers: Type.Object({
            "x-skala-digest": Type.Optional(Type.String({ description: "expected digest, sha256:<hex>" })),
          }),
          response: { 200: StoredArtifact, 201: StoredArtifact },
        },
      },
      async (req, reply) => {
        const expected = req.headers["x-skala-digest"];
        if (Array.isArray(expected))
          throw new SkalaError("VALIDATION_FAILED", "x-skala-digest given more than once");
        const body = req.body as AsyncIterable<Uint8Array> | undefined;
        if (!body) throw new SkalaError("VALIDATION_FAILED", "the upload has no body");
        const stored = await artifacts.upload(
          body,
          expected ? parseDigest(expected, "headers/x-skala-digest") : undefined,
        );
        return reply.status(stored.created ? 201 : 200).send(stored);
      },
    );
  });
  app.get(
    "/artifacts/:digest",
    {
      schema: {
        ...op("artifacts", "downloadArtifact", "Download an artifact's bytes"),
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
    },
    async (req, reply) => {
      const digest = parseDigest(req.params.digest, "params/digest");
      const { size, body } = await artifacts.open(digest);
      reply.header("content-type", "application/octet-stream");
      // Small blobs are verified before the first byte goes out, so corruption is a clean 500; large ones
      // stream, and a digest mismatch found at the end aborts the response instead of completing it.
      if (size <= VERIFY_BEFORE_SEND_BYTES) return reply.send(await artifacts.read(digest));
      reply.header("content-length", size);
      return reply.send(Readable.from(body));
    },
  );
};
