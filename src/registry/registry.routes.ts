import { Readable } from "node:stream";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyPluginAsync } from "fastify";
import { parseDigest } from "../artifacts/index.js";
import { routeOptions, SkalaError } from "../core/index.js";
import { registryApi as api } from "./registry.api.js";
import type { Registry } from "./registry.js";
import { parseVersionRef } from "./version.service.js";

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

/**
 * Registry endpoints under /api/v1: each route registers from its entry in registry.api.ts (method, path,
 * schemas), parses, makes one service call, responds.
 */
export const registryRoutes: FastifyPluginAsync<{ registry: Registry }> = async (plugin, { registry }) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { projects, models, versions, runs, datasets, deployments, artifacts } = registry;

  // --- projects
  app.route({
    ...routeOptions(api.createProject),
    handler: async (req, reply) => reply.status(201).send(await projects.create(req.body)),
  });
  app.route({
    ...routeOptions(api.listProjects),
    handler: async () => ({ items: await projects.list() }),
  });
  app.route({
    ...routeOptions(api.getProject),
    handler: async (req) => projects.get(req.params.project),
  });

  // --- registered models
  app.route({
    ...routeOptions(api.createModel),
    handler: async (req, reply) => reply.status(201).send(await models.create(req.params.project, req.body)),
  });
  app.route({
    ...routeOptions(api.listModels),
    handler: async (req) => {
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
  });
  app.route({
    ...routeOptions(api.getModel),
    handler: async (req) => models.get(req.params.project, req.params.model),
  });
  app.route({
    ...routeOptions(api.updateModel),
    handler: async (req) => models.update(req.params.project, req.params.model, req.body),
  });
  app.route({
    ...routeOptions(api.archiveModel),
    handler: async (req) => models.archive(req.params.project, req.params.model),
  });
  app.route({
    ...routeOptions(api.restoreModel),
    handler: async (req) => models.restore(req.params.project, req.params.model),
  });

  // --- versions
  app.route({
    ...routeOptions(api.createVersion),
    handler: async (req, reply) =>
      reply.status(201).send(await versions.create(req.params.project, req.params.model, req.body)),
  });
  app.route({
    ...routeOptions(api.listVersions),
    handler: async (req) => versions.list(req.params.project, req.params.model, req.query),
  });
  app.route({
    ...routeOptions(api.getVersion),
    handler: async (req) =>
      versions.get(req.params.project, req.params.model, parseVersionRef(req.params.ref)),
  });
  app.route({
    ...routeOptions(api.updateVersion),
    handler: async (req) =>
      versions.update(req.params.project, req.params.model, parseVersionRef(req.params.ref), req.body),
  });
  app.route({
    ...routeOptions(api.searchVersions),
    handler: async (req) => versions.search(req.params.project, req.query),
  });
  app.route({
    ...routeOptions(api.searchVersionsByBody),
    handler: async (req) => versions.search(req.params.project, req.body),
  });
  app.route({
    ...routeOptions(api.resolveReference),
    handler: async (req) => versions.resolve(req.params.project, req.params.reference),
  });
  app.route({
    ...routeOptions(api.bulkRegisterVersions),
    handler: async (req, reply) => {
      const created = await versions.bulkRegister(req.params.project, req.body);
      return reply.status(201).send({ count: created.length, versions: created });
    },
  });

  // --- deployments
  app.route({
    ...routeOptions(api.listDeployments),
    handler: async (req) => ({ items: await deployments.list(req.params.project, req.params.environment) }),
  });
  app.route({
    ...routeOptions(api.getDeployment),
    handler: async (req) => deployments.get(req.params.project, req.params.environment, req.params.model),
  });
  app.route({
    ...routeOptions(api.setDeployment),
    handler: async (req) =>
      deployments.set(req.params.project, req.params.environment, req.params.model, req.body),
  });
  app.route({
    ...routeOptions(api.deleteDeployment),
    handler: async (req, reply) => {
      await deployments.delete(req.params.project, req.params.environment, req.params.model);
      return reply.status(204).send(null);
    },
  });

  // --- aliases
  app.route({
    ...routeOptions(api.listAliases),
    handler: async (req) => ({ items: await versions.listAliases(req.params.project, req.params.model) }),
  });
  app.route({
    ...routeOptions(api.getAlias),
    handler: async (req) => versions.alias(req.params.project, req.params.model, req.params.alias),
  });
  app.route({
    ...routeOptions(api.setAlias),
    handler: async (req) =>
      versions.setAlias(req.params.project, req.params.model, req.params.alias, req.body),
  });
  app.route({
    ...routeOptions(api.deleteAlias),
    handler: async (req, reply) => {
      await versions.deleteAlias(req.params.project, req.params.model, req.params.alias);
      return reply.status(204).send(null);
    },
  });
  app.route({
    ...routeOptions(api.listAliasHistory),
    handler: async (req) => ({
      items: await versions.aliasHistory(
        req.params.project,
        req.params.model,
        req.query.alias,
        req.query.limit,
      ),
    }),
  });

  // --- runs
  app.route({
    ...routeOptions(api.createRun),
    handler: async (req, reply) => reply.status(201).send(await runs.create(req.params.project, req.body)),
  });
  app.route({
    ...routeOptions(api.listRuns),
    handler: async (req) => runs.list(req.params.project, req.query),
  });
  app.route({
    ...routeOptions(api.getRun),
    handler: async (req) => runs.get(req.params.project, req.params.run),
  });
  app.route({
    ...routeOptions(api.logRunParams),
    handler: async (req) => runs.logParams(req.params.project, req.params.run, req.body.params),
  });
  app.route({
    ...routeOptions(api.logRunMetrics),
    handler: async (req) => runs.logMetrics(req.params.project, req.params.run, req.body),
  });
  app.route({
    ...routeOptions(api.getRunMetricHistory),
    handler: async (req) => ({
      items: await runs.metricHistory(req.params.project, req.params.run, req.params.key),
    }),
  });
  app.route({
    ...routeOptions(api.attachRunArtifact),
    handler: async (req) => runs.attachArtifact(req.params.project, req.params.run, req.body),
  });
  app.route({
    ...routeOptions(api.finishRun),
    handler: async (req) => runs.finish(req.params.project, req.params.run, req.body.status),
  });

  // --- datasets
  app.route({
    ...routeOptions(api.listDatasets),
    handler: async (req) => ({ items: await datasets.list(req.params.project) }),
  });
  app.route({
    ...routeOptions(api.registerDatasetVersion),
    handler: async (req, reply) =>
      reply
        .status(201)
        .send(await datasets.registerVersion(req.params.project, req.params.dataset, req.body)),
  });
  app.route({
    ...routeOptions(api.listDatasetVersions),
    handler: async (req) => ({ items: await datasets.versions(req.params.project, req.params.dataset) }),
  });
  app.route({
    ...routeOptions(api.getDatasetVersion),
    handler: async (req) => datasets.version(req.params.project, req.params.dataset, req.params.version),
  });

  // --- artifacts: raw bytes in, streamed to the content-addressed store with the size limit enforced while reading.
  app.register(async (plain) => {
    const raw = plain.withTypeProvider<TypeBoxTypeProvider>();
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    raw.route({
      ...routeOptions(api.uploadArtifact),
      // Streamed to the blob store, never buffered: its bytes do not count against the body budget.
      config: { streamsBody: true },
      handler: async (req, reply) => {
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
    });
  });
  app.route({
    ...routeOptions(api.downloadArtifact),
    handler: async (req, reply) => {
      const digest = parseDigest(req.params.digest, "params/digest");
      const { size, body } = await artifacts.open(digest);
      reply.header("content-type", "application/octet-stream");
      // Small blobs are verified before the first byte goes out, so corruption is a clean 500; large ones
      // stream, and a digest mismatch found at the end aborts the response instead of completing it.
      if (size <= VERIFY_BEFORE_SEND_BYTES) return reply.send(await artifacts.read(digest));
      reply.header("content-length", size);
      return reply.send(Readable.from(body));
    },
  });
};
