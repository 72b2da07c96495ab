import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyPluginAsync } from "fastify";
import { routeOptions } from "../core/index.js";
import { autopilotApi as api } from "./autopilot.api.js";
import type { AutopilotService } from "./autopilot.service.js";
import { type Policy, policyDocument } from "./policy.js";

/** Autopilot endpoints under /api/v1/projects/:project/autopilot, registered from autopilot.api.ts. */
export const autopilotRoutes: FastifyPluginAsync<{ autopilot: AutopilotService }> = async (
  plugin,
  options,
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { autopilot } = options;
  const stored = (s: { policy: Policy; createdAt: string; updatedAt: string }) => ({
    name: s.policy.name,
    policy: policyDocument(s.policy),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  });

  app.route({
    ...routeOptions(api.putAutopilotPolicy),
    handler: async (req) => stored(await autopilot.putPolicy(req.params.project, req.params.name, req.body)),
  });
  app.route({
    ...routeOptions(api.getAutopilotPolicy),
    handler: async (req) => stored(await autopilot.getPolicy(req.params.project, req.params.name)),
  });
  app.route({
    ...routeOptions(api.listAutopilotPolicies),
    handler: async (req) => ({
      items: (await autopilot.listPolicies(req.params.project)).map(policyDocument),
    }),
  });
  app.route({
    ...routeOptions(api.runAutopilotPolicy),
    handler: async (req) => autopilot.run(req.params.project, req.params.name),
  });
  app.route({
    ...routeOptions(api.listAutopilotActions),
    handler: async (req) => ({ items: await autopilot.listActions(req.params.project, req.query) }),
  });
  app.route({
    ...routeOptions(api.listApprovals),
    handler: async (req) => ({ items: await autopilot.listApprovals(req.params.project, req.query) }),
  });
  app.route({
    ...routeOptions(api.getApproval),
    handler: async (req) => autopilot.getApproval(req.params.project, req.params.id),
  });
  app.route({
    ...routeOptions(api.approveRequest),
    handler: async (req) => autopilot.approve(req.params.project, req.params.id, req.body),
  });
  app.route({
    ...routeOptions(api.rejectRequest),
    handler: async (req) => autopilot.reject(req.params.project, req.params.id, req.body),
  });
};
