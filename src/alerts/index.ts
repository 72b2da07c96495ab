export { AlertService, type AlertServiceOptions } from "./alert.service.js";
export { alertsApi } from "./alerts.api.js";
export { alertsRoutes } from "./alerts.routes.js";
export { AlertSchema, DeadLetterSchema, DeliverySchema, WebhookSchema } from "./alerts.schemas.js";
export {
  ALERT_EVENTS,
  ALERT_LIMITS,
  ALERT_STATUSES,
  type Alert,
  type AlertAction,
  type AlertActionInput,
  type AlertEvent,
  type AlertStatus,
  type ListAlertsOptions,
  type Page,
  type RaiseAlertInput,
  type RaiseAlertResult,
  SEVERITIES,
  type Severity,
} from "./alerts.types.js";
export { type Alerts, type CreateAlertsOptions, createAlerts } from "./create-alerts.js";
export { createHttpTransport } from "./http-transport.js";
export {
  DEFAULT_RETRY_SCHEDULE,
  isRetryable,
  parseRetryAfter,
  type RetrySchedule,
  retryDelayMs,
} from "./retry-schedule.js";
export {
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_HEADER,
  signatureHeader,
  type VerifyOutcome,
  verifySignature,
} from "./signature.js";
export { WebhookService, type WebhookServiceOptions } from "./webhook.service.js";
export type { WebhookRequest, WebhookResponse, WebhookTransport } from "./webhook-transport.js";
export { isPrivateAddress, validateWebhookUrl } from "./webhook-url.js";
export {
  type CreatedWebhook,
  type CreateWebhookInput,
  DELIVER_JOB,
  type DeadLetter,
  type DeliverPayload,
  type DeliverResult,
  type Delivery,
  type DeliveryStatus,
  type UpdateWebhookInput,
  type WebhookPayload,
  type WebhookSubscription,
} from "./webhooks.types.js";
