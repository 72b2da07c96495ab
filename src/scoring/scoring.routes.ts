import { Readable } from "node:stream";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyPluginAsync } from "fastify";
import { routeOptions } from "../core/index.js";
import { scoringApi as api } from "./scoring.api.js";
import type { ScoringService } from "./scoring.service.js";

/**
 * Batch scoring endpoints under /api/v1/projects/:project/scoring-jobs, registered from their entries in
 * scoring.api.ts; errors use the registry's envelope.
 */
export const scoringRoutes: FastifyPluginAsync<{ scoring: ScoringService }> = async (plugin, options) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { scoring } = options;

  app.route({
    ...routeOptions(api.submitScoringJob),
    handler: async (req, reply) => {
      const { job, created } = await scoring.submit(req.params.project, req.body);
      return reply.status(created ? 202 : 200).send(job);
    },
  });

  app.route({
    ...routeOptions(api.getScoringJob),
    handler: async (req) => scoring.get(req.params.project, req.params.id),
  });

  app.route({
    ...routeOptions(api.downloadScoringOutput),
    handler: async (req, reply) => {
      const { job, size, body } = await scoring.output(req.params.project, req.params.id);
      const digest = job.output?.digest ?? "";
      reply.header("content-type", "text/csv; charset=utf-8");
      reply.header("content-length", size);
      reply.header("etag", `"${digest}"`);
      reply.header(
        "content-disposition",
        `attachment; filename="${job.model}-v${job.version}-${job.dataset}-v${job.datasetVersion}.scores.csv"`,
      );
      return reply.send(Readable.from(body));
    },
  });

  app.route({
    ...routeOptions(api.cancelScoringJob),
    handler: async (req) => scoring.cancel(req.params.project, req.params.id),
  });
};
