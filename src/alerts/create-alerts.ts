import type { Clock } from "../core/index.js";
import type { JobQueue, WorkerPool } from "../jobs/index.js";
import type { Store } from "../store/index.js";
import { AlertService } from "./alert.service.js";
import type { RetrySchedule } from "./retry-schedule.js";
import { WebhookService } from "./webhook.service.js";
import type { WebhookTransport } from "./webhook-transport.js";

export interface CreateAlertsOptions {
  store: Pick<Store, "db" | "sqlDialect">;
  jobs: JobQueue;
  transport: WebhookTransport;
  /** `alerts.allowPrivateAddresses`. */
  allowPrivateAddresses: boolean;
  clock?: Clock;
  /** `alerts.webhookMaxAttempts`. */
  maxAttempts?: number;
  /** `alerts.webhookTimeoutMs`. */
  timeoutMs?: number;
  schedule?: Partial<RetrySchedule>;
  random?: () => number;
}

/** The alerts capability: the inbox, the webhooks that hear of it, and the worker hook that delivers. */
export interface Alerts {
  alerts: AlertService;
  webhooks: WebhookService;
  /** Runs deliveries on this pool. */
  attach(pool: WorkerPool): void;
}

export function createAlerts(options: CreateAlertsOptions): Alerts {
  const webhooks = new WebhookService({
    store: options.store,
    jobs: options.jobs,
    transport: options.transport,
    allowPrivateAddresses: options.allowPrivateAddresses,
    ...(options.clock && { clock: options.clock }),
    ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    ...(options.schedule && { schedule: options.schedule }),
    ...(options.random && { random: options.random }),
  });
  const alerts = new AlertService({
    store: options.store,
    webhooks,
    ...(options.clock && { clock: options.clock }),
  });
  return { alerts, webhooks, attach: (pool) => webhooks.attach(pool) };
}
