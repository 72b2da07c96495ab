import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyPluginAsync } from "fastify";
import { routeOptions } from "../core/index.js";
import { monitoringApi as api } from "./monitoring.api.js";
import type { MonitoringService } from "./monitoring.service.js";

/**
 * Monitoring endpoints, registered from monitoring.api.ts. The batch routes attach schema validation rather
 * than fail on it: the service checks every row itself, so each problem is reported with its row and counted.
 */
export const monitoringRoutes: FastifyPluginAsync<{ monitoring: MonitoringService }> = async (
  plugin,
  options,
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { monitoring } = options;

  app.route({
    ...routeOptions(api.ingestPredictions),
    attachValidation: true,
    handler: async (req) => {
      onlyBodyUnchecked(req.validationError);
      return monitoring.ingestPredictions(req.params.project, batchOf(req.body, "predictions"));
    },
  });

  app.route({
    ...routeOptions(api.ingestFeedback),
    attachValidation: true,
    handler: async (req) => {
      onlyBodyUnchecked(req.validationError);
      return monitoring.ingestFeedback(req.params.project, batchOf(req.body, "feedback"));
    },
  });

  app.route({
    ...routeOptions(api.getIngestCounts),
    handler: async (req) => monitoring.counts(req.params.project),
  });
};

/** Path parameters are still checked by their schema; only the body is left to the service. */
function onlyBodyUnchecked(error: (Error & { validationContext?: string }) | undefined): void {
  if (error !== undefined && error.validationContext !== "body") throw error;
}

/** The rows of a body as sent (its schema was not enforced); the service refuses anything but an array. */
function batchOf(body: unknown, field: string): unknown[] {
  const rows = (body as Record<string, unknown> | null)?.[field];
  return rows as unknown[];
}
