import { Type } from "@sinclair/typebox";
import { defineApi } from "../core/index.js";
import {
  AlertPageSchema,
  AlertSchema,
  AlertStatusSchema,
  CreatedWebhookSchema,
  DeadLetterPageSchema,
  DeliveryListSchema,
  DeliverySchema,
  SeveritySchema,
  WebhookListSchema,
  WebhookSchema,
} from "./alerts.schemas.js";
import { ALERT_LIMITS } from "./alerts.types.js";

/**
 * The alert operations under /api/v1/projects/{project}: the inbox, webhook subscriptions and their dead
 * letters. alerts.routes.ts registers its routes from these entries and the CLI's client takes its types from them.
 */

const Name = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$" });
const Id = Type.String({ minLength: 1, maxLength: 100 });
const Source = Type.String({ pattern: "^[a-z][a-z0-9._-]{0,62}$" });
const ProjectParams = Type.Object({ project: Name });
const AlertParams = Type.Object({ project: Name, id: Id });
const WebhookParams = Type.Object({ project: Name, webhook: Id });
const DeadLetterParams = Type.Object({ project: Name, id: Id });
const Paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  cursor: Type.Optional(Type.String({ maxLength: 4_096 })),
};
const ActionBody = Type.Object(
  {
    by: Type.String({ minLength: 1, maxLength: ALERT_LIMITS.actorChars, description: "who" }),
    note: Type.Optional(Type.String({ maxLength: ALERT_LIMITS.noteChars })),
  },
  { additionalProperties: false },
);
const Filters = {
  severities: Type.Optional(Type.Array(SeveritySchema, { maxItems: 3, description: "empty or absent: all" })),
  sources: Type.Optional(Type.Array(Source, { maxItems: 50, description: "empty or absent: all" })),
  description: Type.Optional(Type.String({ maxLength: 1_000 })),
  enabled: Type.Optional(Type.Boolean()),
};
const Url = Type.String({ minLength: 1, maxLength: 2_048, description: "http or https, no credentials" });

export const alertsApi = defineApi({
  listAlerts: {
    method: "GET",
    path: "/projects/:project/alerts",
    tag: "alerts",
    summary: "The alert inbox, most severe first",
    description:
      "Alerts most severe first, then newest. Without `status`, the unresolved ones (open and acknowledged).",
    params: ProjectParams,
    querystring: Type.Object(
      {
        status: Type.Optional(Type.Array(AlertStatusSchema, { maxItems: 3 })),
        severity: Type.Optional(Type.Array(SeveritySchema, { maxItems: 3 })),
        source: Type.Optional(Source),
        subject: Type.Optional(Type.String({ minLength: 1, maxLength: ALERT_LIMITS.subjectChars })),
        ...Paging,
      },
      { additionalProperties: false },
    ),
    response: { 200: AlertPageSchema },
  },
  raiseAlert: {
    method: "POST",
    path: "/projects/:project/alerts",
    tag: "alerts",
    summary: "Raise an alert (deduplicated by its key while unresolved)",
    description:
      "201 with a new alert; 200 with the unresolved alert of the same dedup key, its count and last-seen time moved.",
    params: ProjectParams,
    body: Type.Object(
      {
        source: Source,
        subject: Type.String({ minLength: 1, maxLength: ALERT_LIMITS.subjectChars }),
        severity: SeveritySchema,
        title: Type.String({ minLength: 1, maxLength: ALERT_LIMITS.titleChars }),
        reason: Type.String({ minLength: 1, maxLength: ALERT_LIMITS.reasonChars }),
        evidence: Type.Optional(Type.Unknown({ description: "any JSON, at most 16 KiB as text" })),
        dedupKey: Type.Optional(Type.String({ minLength: 1, maxLength: ALERT_LIMITS.dedupKeyChars })),
      },
      { additionalProperties: false },
    ),
    response: { 200: AlertSchema, 201: AlertSchema },
  },
  getAlert: {
    method: "GET",
    path: "/projects/:project/alerts/:id",
    tag: "alerts",
    summary: "One alert",
    params: AlertParams,
    response: { 200: AlertSchema },
  },
  acknowledgeAlert: {
    method: "POST",
    path: "/projects/:project/alerts/:id/acknowledge",
    tag: "alerts",
    summary: "Acknowledge an alert (who, and an optional note)",
    params: AlertParams,
    body: ActionBody,
    response: { 200: AlertSchema },
  },
  resolveAlert: {
    method: "POST",
    path: "/projects/:project/alerts/:id/resolve",
    tag: "alerts",
    summary: "Resolve an alert (who, and an optional note)",
    params: AlertParams,
    body: ActionBody,
    response: { 200: AlertSchema },
  },
  createWebhook: {
    method: "POST",
    path: "/projects/:project/webhooks",
    tag: "alerts",
    summary: "Subscribe a webhook to the project's alerts",
    description: "The answer holds the signing secret; no later answer does.",
    params: ProjectParams,
    body: Type.Object(
      {
        url: Url,
        ...Filters,
        secret: Type.Optional(
          Type.String({ pattern: "^[\\x21-\\x7e]{16,256}$", description: "default: a new random secret" }),
        ),
      },
      { additionalProperties: false },
    ),
    response: { 201: CreatedWebhookSchema },
  },
  listWebhooks: {
    method: "GET",
    path: "/projects/:project/webhooks",
    tag: "alerts",
    summary: "The project's webhook subscriptions",
    params: ProjectParams,
    response: { 200: WebhookListSchema },
  },
  getWebhook: {
    method: "GET",
    path: "/projects/:project/webhooks/:webhook",
    tag: "alerts",
    summary: "One webhook subscription",
    params: WebhookParams,
    response: { 200: WebhookSchema },
  },
  updateWebhook: {
    method: "PATCH",
    path: "/projects/:project/webhooks/:webhook",
    tag: "alerts",
    summary: "Change a webhook's URL, filters or enabled state",
    params: WebhookParams,
    body: Type.Object({ url: Type.Optional(Url), ...Filters }, { additionalProperties: false }),
    response: { 200: WebhookSchema },
  },
  deleteWebhook: {
    method: "DELETE",
    path: "/projects/:project/webhooks/:webhook",
    tag: "alerts",
    summary: "Remove a webhook subscription with its deliveries and dead letters",
    params: WebhookParams,
    response: { 204: Type.Null({ description: "removed" }) },
  },
  listWebhookDeliveries: {
    method: "GET",
    path: "/projects/:project/webhooks/:webhook/deliveries",
    tag: "alerts",
    summary: "A webhook's latest deliveries and their attempts",
    params: WebhookParams,
    querystring: Type.Object(
      { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000 })) },
      { additionalProperties: false },
    ),
    response: { 200: DeliveryListSchema },
  },
  listDeadLetters: {
    method: "GET",
    path: "/projects/:project/dead-letters",
    tag: "alerts",
    summary: "Deliveries that failed every attempt, newest first",
    params: ProjectParams,
    querystring: Type.Object({ webhook: Type.Optional(Id), ...Paging }, { additionalProperties: false }),
    response: { 200: DeadLetterPageSchema },
  },
  redeliverDeadLetter: {
    method: "POST",
    path: "/projects/:project/dead-letters/:id/redeliver",
    tag: "alerts",
    summary: "Send a dead letter's message again, as a new delivery",
    description: "202 with the new delivery; 200 with the one an earlier redelivery made.",
    params: DeadLetterParams,
    response: { 200: DeliverySchema, 202: DeliverySchema },
  },
});
