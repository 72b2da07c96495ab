import type { Alert, AlertEvent, Severity } from "./alerts.types.js";

/** A project's webhook: where alerts are posted, and which ones. The secret never appears here. */
export interface WebhookSubscription {
  id: string;
  project: string;
  url: string;
  description: string;
  /** Severities delivered; empty: every one. */
  severities: Severity[];
  /** Sources delivered; empty: every one. */
  sources: string[];
  /** A disabled subscription receives nothing new; deliveries already queued for it are cancelled. */
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The subscription as created: the only time its secret is shown. */
export interface CreatedWebhook extends WebhookSubscription {
  secret: string;
}

export interface CreateWebhookInput {
  url: string;
  description?: string;
  severities?: Severity[];
  sources?: string[];
  /** Default: a new random one (`whsec_…`), returned once. At least 16 characters when given. */
  secret?: string;
  enabled?: boolean;
}

export interface UpdateWebhookInput {
  url?: string;
  description?: string;
  severities?: Severity[];
  sources?: string[];
  enabled?: boolean;
}

/** pending (attempts remain) → delivered | dead (a dead letter records it) | cancelled (subscription disabled). */
export const DELIVERY_STATUSES = ["pending", "delivered", "dead", "cancelled"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One message to one subscription, with how its attempts went. */
export interface Delivery {
  id: string;
  webhookId: string;
  alertId: string;
  event: AlertEvent;
  status: DeliveryStatus;
  attempts: number;
  /** The last answer's HTTP status; null when none came (refused, timeout). */
  lastStatus: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** A delivery that failed its last attempt (or was refused for good); redelivery makes a new delivery. */
export interface DeadLetter {
  id: string;
  deliveryId: string;
  webhookId: string;
  alertId: string;
  event: AlertEvent;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  redeliveredAt: string | null;
  redeliveryId: string | null;
}

/** The JSON body of every delivery (docs/reference/alerts.md). */
export interface WebhookPayload {
  /** The delivery's id: the same on every attempt, so a receiver can drop duplicates. */
  id: string;
  event: AlertEvent;
  createdAt: string;
  project: string;
  alert: Alert;
}

/** The job that makes one attempt of one delivery. */
export const DELIVER_JOB = "alerts.deliver";

export interface DeliverPayload {
  deliveryId: string;
  attempt: number;
}

export interface DeliverResult {
  deliveryId: string;
  attempt: number;
  outcome: "delivered" | "retry" | "dead" | "skipped" | "cancelled";
  status: number | null;
  nextAttemptAt?: string;
}
