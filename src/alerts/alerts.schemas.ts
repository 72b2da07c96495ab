import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { ALERT_EVENTS, ALERT_STATUSES, type Alert, SEVERITIES } from "./alerts.types.js";
import {
  type CreatedWebhook,
  DELIVERY_STATUSES,
  type DeadLetter,
  type Delivery,
  type WebhookSubscription,
} from "./webhooks.types.js";

/**
 * Alerts, webhooks, deliveries and dead letters as the API shows them; the compile-time checks below keep each
 * equal to its type in alerts.types.ts / webhooks.types.ts.
 */

const Timestamp = Type.String({ format: "date-time" });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const SeveritySchema = Type.Union(SEVERITIES.map((s) => Type.Literal(s)));
export const AlertStatusSchema = Type.Union(ALERT_STATUSES.map((s) => Type.Literal(s)));
const EventSchema = Type.Union(ALERT_EVENTS.map((s) => Type.Literal(s)));

const ActionSchema = Nullable(
  Type.Object({ by: Type.String(), at: Timestamp, note: Nullable(Type.String()) }, { title: "AlertAction" }),
);

export const AlertSchema = Type.Object(
  {
    id: Type.String(),
    project: Type.String(),
    source: Type.String(),
    subject: Type.String(),
    severity: SeveritySchema,
    title: Type.String(),
    reason: Type.String(),
    evidence: Type.Unknown({ description: "JSON the source attached, at most 16 KiB as text" }),
    dedupKey: Type.String(),
    status: AlertStatusSchema,
    count: Type.Integer({ description: "raises while unresolved" }),
    firstSeenAt: Timestamp,
    lastSeenAt: Timestamp,
    acknowledged: ActionSchema,
    resolved: ActionSchema,
    updatedAt: Timestamp,
  },
  { title: "Alert" },
);

export const AlertPageSchema = Type.Object(
  { items: Type.Array(AlertSchema), nextCursor: Nullable(Type.String()) },
  { title: "AlertPage" },
);

const webhookProperties = {
  id: Type.String(),
  project: Type.String(),
  url: Type.String(),
  description: Type.String(),
  severities: Type.Array(SeveritySchema, { description: "empty: every severity" }),
  sources: Type.Array(Type.String(), { description: "empty: every source" }),
  enabled: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
};

export const WebhookSchema = Type.Object(webhookProperties, { title: "WebhookSubscription" });

export const CreatedWebhookSchema = Type.Object(
  {
    ...webhookProperties,
    secret: Type.String({ description: "the signing secret; shown in this answer only, never again" }),
  },
  { title: "CreatedWebhookSubscription" },
);

export const WebhookListSchema = Type.Object({ items: Type.Array(WebhookSchema) }, { title: "WebhookList" });

export const DeliverySchema = Type.Object(
  {
    id: Type.String(),
    webhookId: Type.String(),
    alertId: Type.String(),
    event: EventSchema,
    status: Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s))),
    attempts: Type.Integer(),
    lastStatus: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    nextAttemptAt: Nullable(Timestamp),
    createdAt: Timestamp,
    deliveredAt: Nullable(Timestamp),
  },
  { title: "WebhookDelivery" },
);

export const DeliveryListSchema = Type.Object(
  { items: Type.Array(DeliverySchema) },
  { title: "DeliveryList" },
);

export const DeadLetterSchema = Type.Object(
  {
    id: Type.String(),
    deliveryId: Type.String(),
    webhookId: Type.String(),
    alertId: Type.String(),
    event: EventSchema,
    attempts: Type.Integer(),
    lastStatus: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    createdAt: Timestamp,
    redeliveredAt: Nullable(Timestamp),
    redeliveryId: Nullable(Type.String()),
  },
  { title: "DeadLetter" },
);

export const DeadLetterPageSchema = Type.Object(
  { items: Type.Array(DeadLetterSchema), nextCursor: Nullable(Type.String()) },
  { title: "DeadLetterPage" },
);

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** `never` when a schema and its type drift apart, which fails `npm run typecheck`. */
export type AlertSchemasMatchTheirTypes = [
  // TypeBox reads an `unknown` property as optional; the evidence is always there, so it is compared apart.
  Same<Omit<Static<typeof AlertSchema>, "evidence">, Omit<Alert, "evidence">>,
  Same<Static<typeof WebhookSchema>, WebhookSubscription>,
  Same<Static<typeof CreatedWebhookSchema>, CreatedWebhook>,
  Same<Static<typeof DeliverySchema>, Delivery>,
  Same<Static<typeof DeadLetterSchema>, DeadLetter>,
] extends [true, true, true, true, true]
  ? true
  : never;
const schemasMatch: AlertSchemasMatchTheirTypes = true;
void schemasMatch;
