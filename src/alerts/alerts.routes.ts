import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyPluginAsync } from "fastify";
import { routeOptions } from "../core/index.js";
import type { AlertService } from "./alert.service.js";
import { alertsApi as api } from "./alerts.api.js";
import type { WebhookService } from "./webhook.service.js";

/** Alert endpoints under /api/v1/projects/:project, registered from their entries in alerts.api.ts. */
export const alertsRoutes: FastifyPluginAsync<{ alerts: AlertService; webhooks: WebhookService }> = async (
  plugin,
  options,
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { alerts, webhooks } = options;

  app.route({
    ...routeOptions(api.listAlerts),
    handler: async (req) => {
      const q = req.query;
      return alerts.list(req.params.project, {
        ...(q.status !== undefined && { status: q.status }),
        ...(q.severity !== undefined && { severity: q.severity }),
        ...(q.source !== undefined && { source: q.source }),
        ...(q.subject !== undefined && { subject: q.subject }),
        ...(q.limit !== undefined && { limit: q.limit }),
        ...(q.cursor !== undefined && { cursor: q.cursor }),
      });
    },
  });

  app.route({
    ...routeOptions(api.raiseAlert),
    handler: async (req, reply) => {
      const { alert, created } = await alerts.raise(req.params.project, req.body);
      return reply.status(created ? 201 : 200).send(alert);
    },
  });

  app.route({
    ...routeOptions(api.getAlert),
    handler: async (req) => alerts.get(req.params.project, req.params.id),
  });

  app.route({
    ...routeOptions(api.acknowledgeAlert),
    handler: async (req) => alerts.acknowledge(req.params.project, req.params.id, req.body),
  });

  app.route({
    ...routeOptions(api.resolveAlert),
    handler: async (req) => alerts.resolve(req.params.project, req.params.id, req.body),
  });

  app.route({
    ...routeOptions(api.createWebhook),
    handler: async (req, reply) =>
      reply.status(201).send(await webhooks.create(req.params.project, req.body)),
  });

  app.route({
    ...routeOptions(api.listWebhooks),
    handler: async (req) => ({ items: await webhooks.list(req.params.project) }),
  });

  app.route({
    ...routeOptions(api.getWebhook),
    handler: async (req) => webhooks.get(req.params.project, req.params.webhook),
  });

  app.route({
    ...routeOptions(api.updateWebhook),
    handler: async (req) => webhooks.update(req.params.project, req.params.webhook, req.body),
  });

  app.route({
    ...routeOptions(api.deleteWebhook),
    handler: async (req, reply) => {
      await webhooks.remove(req.params.project, req.params.webhook);
      return reply.status(204).send(null);
    },
  });

  app.route({
    ...routeOptions(api.listWebhookDeliveries),
    handler: async (req) => ({
      items: await webhooks.deliveries(req.params.project, req.params.webhook, req.query.limit),
    }),
  });

  app.route({
    ...routeOptions(api.listDeadLetters),
    handler: async (req) => {
      const q = req.query;
      return webhooks.deadLetters(req.params.project, {
        ...(q.webhook !== undefined && { webhook: q.webhook }),
        ...(q.limit !== undefined && { limit: q.limit }),
        ...(q.cursor !== undefined && { cursor: q.cursor }),
      });
    },
  });

  app.route({
    ...routeOptions(api.redeliverDeadLetter),
    handler: async (req, reply) => {
      const { delivery, created } = await webhooks.redeliver(req.params.project, req.params.id);
      return reply.status(created ? 202 : 200).send(delivery);
    },
  });
};
