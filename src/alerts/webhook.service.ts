import {
  type Clock,
  decodeIntegerCursor,
  encodeCursor,
  newId,
  SkalaError,
  systemClock,
  type ValidationIssue,
  validationError,
} from "../core/index.js";
import type { JobQueue, WorkerPool } from "../jobs/index.js";
import { type Executor, inTransaction, type Store } from "../store/index.js";
import { AlertsRepository, toDelivery, toWebhook } from "./alerts.repository.js";
import type { Page } from "./alerts.types.js";
import { type Alert, type AlertEvent, SEVERITIES, type Severity } from "./alerts.types.js";
import {
  DEFAULT_RETRY_SCHEDULE,
  isRetryable,
  parseRetryAfter,
  type RetrySchedule,
  retryDelayMs,
} from "./retry-schedule.js";
import { newWebhookSecret, signatureHeader } from "./signature.js";
import type { WebhookTransport } from "./webhook-transport.js";
import { validateWebhookUrl } from "./webhook-url.js";
import {
  type CreatedWebhook,
  type CreateWebhookInput,
  DELIVER_JOB,
  type DeadLetter,
  type DeliverPayload,
  type DeliverResult,
  type Delivery,
  type UpdateWebhookInput,
  type WebhookPayload,
  type WebhookSubscription,
} from "./webhooks.types.js";

export interface WebhookServiceOptions {
  store: Pick<Store, "db">;
  jobs: JobQueue;
  /** How deliveries leave (createHttpTransport in the server). */
  transport: WebhookTransport;
  /** `alerts.allowPrivateAddresses`: checked when a subscription is made or changed (the transport checks again). */
  allowPrivateAddresses: boolean;
  clock?: Clock;
  /** `alerts.webhookMaxAttempts`. Default 8. */
  maxAttempts?: number;
  /** `alerts.webhookTimeoutMs`: one attempt, connection to the end of the answer. Default 10,000. */
  timeoutMs?: number;
  schedule?: Partial<RetrySchedule>;
  /** Jitter source in [0, 1); injected so tests can pin delays. */
  random?: () => number;
  /** Subscriptions one project may have. Default 100. */
  maxSubscriptions?: number;
}

const SOURCE_PATTERN = /^[a-z][a-z0-9._-]{0,62}$/;
const MAX_ERROR_CHARS = 1_000;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1_000;

function notFound(project: string, id: string): SkalaError {
  return new SkalaError("WEBHOOK_NOT_FOUND", `webhook "${id}" does not exist in project "${project}"`, {
    project,
    webhook: id,
  });
}

function checkFilters(input: {
  severities?: unknown;
  sources?: unknown;
  description?: unknown;
}): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (input.severities !== undefined) {
    if (
      !Array.isArray(input.severities) ||
      input.severities.length > SEVERITIES.length ||
      !input.severities.every((s) => (SEVERITIES as readonly unknown[]).includes(s))
    ) {
      issues.push({ path: "/severities", message: `must be a list of ${SEVERITIES.join(", ")}` });
    }
  }
  if (input.sources !== undefined) {
    if (
      !Array.isArray(input.sources) ||
      input.sources.length > 50 ||
      !input.sources.every((s) => typeof s === "string" && SOURCE_PATTERN.test(s))
    ) {
      issues.push({ path: "/sources", message: "must be at most 50 source names (lower-case, a-z0-9._-)" });
    }
  }
  if (
    input.description !== undefined &&
    (typeof input.description !== "string" || input.description.length > 1_000)
  ) {
    issues.push({ path: "/description", message: "must be a string of at most 1,000 characters" });
  }
  return issues;
}

function clip(text: string): string {
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

/**
 * Webhook subscriptions and the deliveries made to them. Every delivery is a row plus one `alerts.deliver` job
 * per attempt on the durable queue: an attempt that fails with attempts left records itself and enqueues the
 * next one (due after an exponential, jittered delay, or the receiver's Retry-After when longer) in one
 * transaction, so a crash never loses or double-counts an attempt; the last failure writes a dead letter,
 * which `redeliver` turns into a fresh delivery. Bodies are signed (signature.ts) at each attempt.
 *
 * @example
 * const webhooks = new WebhookService({ store, jobs, transport: createHttpTransport({ allowPrivateAddresses: true }), allowPrivateAddresses: true });
 * webhooks.attach(pool);
 * const { secret } = await webhooks.create("default", { url: "https://hooks.example.com/skala", severities: ["critical"] });
 */
export class WebhookService {
  private readonly db: Executor;
  private readonly repo = new AlertsRepository();
  private readonly jobs: JobQueue;
  private readonly transport: WebhookTransport;
  private readonly clock: Clock;
  private readonly allowPrivateAddresses: boolean;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly schedule: RetrySchedule;
  private readonly random: () => number;
  private readonly maxSubscriptions: number;
  private readonly pools: WorkerPool[] = [];

  constructor(options: WebhookServiceOptions) {
    this.db = options.store.db;
    this.jobs = options.jobs;
    this.transport = options.transport;
    this.clock = options.clock ?? systemClock;
    this.allowPrivateAddresses = options.allowPrivateAddresses;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.schedule = { ...DEFAULT_RETRY_SCHEDULE, ...options.schedule };
    this.random = options.random ?? Math.random;
    this.maxSubscriptions = options.maxSubscriptions ?? 100;
  }

  /** Registers the delivery job on a worker pool; new deliveries then wake it at once. */
  attach(pool: WorkerPool): void {
    pool.register<DeliverPayload, DeliverResult>(DELIVER_JOB, (job, context) =>
      this.deliver(job.payload, context.signal),
    );
    this.pools.push(pool);
  }

  /** Wakes attached pools: after a commit that enqueued deliveries. */
  wake(): void {
    for (const pool of this.pools) pool.notify();
  }

  async create(project: string, input: CreateWebhookInput, db: Executor = this.db): Promise<CreatedWebhook> {
    const issues = checkFilters(input);
    if (
      input.secret !== undefined &&
      (typeof input.secret !== "string" || !/^[\x21-\x7e]{16,256}$/.test(input.secret))
    ) {
      issues.push({
        path: "/secret",
        message: "must be 16 to 256 printable ASCII characters without spaces",
      });
    }
    if (issues.length > 0) throw validationError(issues);
    const url = validateWebhookUrl(input.url, { allowPrivateAddresses: this.allowPrivateAddresses });
    const secret = input.secret ?? newWebhookSecret();
    const now = this.clock.now();
    const row = {
      id: newId("whk", now),
      project_id: "",
      url,
      description: input.description ?? "",
      severities: JSON.stringify(input.severities ?? []),
      sources: JSON.stringify(input.sources ?? []),
      secret,
      enabled: input.enabled === false ? 0 : 1,
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
    };
    await inTransaction(db, async (trx) => {
      row.project_id = await this.repo.projectId(project, trx);
      const existing = await this.repo.listWebhooks(row.project_id, trx);
      if (existing.length >= this.maxSubscriptions) {
        throw new SkalaError(
          "CONFLICT",
          `project "${project}" has ${existing.length} webhook subscriptions, the most it may have`,
          { project, limit: this.maxSubscriptions },
        );
      }
      await this.repo.insertWebhook(row, trx);
    });
    return { ...toWebhook(row, project), secret };
  }

  async list(project: string, db: Executor = this.db): Promise<WebhookSubscription[]> {
    const projectId = await this.repo.projectId(project, db);
    return (await this.repo.listWebhooks(projectId, db)).map((row) => toWebhook(row, project));
  }

  async get(project: string, id: string, db: Executor = this.db): Promise<WebhookSubscription> {
    const projectId = await this.repo.projectId(project, db);
    const row = await this.repo.findWebhook(projectId, id, db);
    if (!row) throw notFound(project, id);
    return toWebhook(row, project);
  }

  async update(
    project: string,
    id: string,
    input: UpdateWebhookInput,
    db: Executor = this.db,
  ): Promise<WebhookSubscription> {
    const issues = checkFilters(input);
    if (issues.length > 0) throw validationError(issues);
    const url =
      input.url === undefined
        ? undefined
        : validateWebhookUrl(input.url, { allowPrivateAddresses: this.allowPrivateAddresses });
    return inTransaction(db, async (trx) => {
      const projectId = await this.repo.projectId(project, trx);
      const row = await this.repo.findWebhook(projectId, id, trx);
      if (!row) throw notFound(project, id);
      await this.repo.updateWebhook(
        id,
        {
          ...(url !== undefined && { url }),
          ...(input.description !== undefined && { description: input.description }),
          ...(input.severities !== undefined && { severities: JSON.stringify(input.severities) }),
          ...(input.sources !== undefined && { sources: JSON.stringify(input.sources) }),
          ...(input.enabled !== undefined && { enabled: input.enabled ? 1 : 0 }),
          updated_at: this.clock.now().toISOString(),
        },
        trx,
      );
      return this.get(project, id, trx);
    });
  }

  /** Removes the subscription, its deliveries and its dead letters; queued attempts then find nothing to do. */
  async remove(project: string, id: string, db: Executor = this.db): Promise<void> {
    await inTransaction(db, async (trx) => {
      const projectId = await this.repo.projectId(project, trx);
      if (!(await this.repo.findWebhook(projectId, id, trx))) throw notFound(project, id);
      await this.repo.deleteWebhook(id, trx);
    });
  }

  /** The subscription's latest deliveries, newest first. */
  async deliveries(
    project: string,
    id: string,
    limit = DEFAULT_PAGE,
    db: Executor = this.db,
  ): Promise<Delivery[]> {
    await this.get(project, id, db);
    const rows = await this.repo.listDeliveries(id, Math.min(Math.max(1, limit), MAX_PAGE), db);
    return rows.map(toDelivery);
  }

  async delivery(id: string, db: Executor = this.db): Promise<Delivery | undefined> {
    const row = await this.repo.findDelivery(id, db);
    return row && toDelivery(row);
  }

  /** Dead letters newest first, optionally of one subscription. */
  async deadLetters(
    project: string,
    options: { webhook?: string; limit?: number; cursor?: string } = {},
    db: Executor = this.db,
  ): Promise<Page<DeadLetter>> {
    const projectId = await this.repo.projectId(project, db);
    const limit = Math.min(options.limit ?? DEFAULT_PAGE, MAX_PAGE);
    const fingerprint = JSON.stringify(["dead-letters", project, options.webhook ?? null]);
    const after = options.cursor ? decodeIntegerCursor(options.cursor, fingerprint).id : undefined;
    const items = await this.repo.listDeadLetters(
      {
        projectId,
        limit: limit + 1,
        ...(options.webhook !== undefined && { webhookId: options.webhook }),
        ...(after !== undefined && { after }),
      },
      db,
    );
    const page = items.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page,
      nextCursor: items.length > limit && last ? encodeCursor({ key: 0, id: last.id }, fingerprint) : null,
    };
  }

  async deadLetter(project: string, id: string, db: Executor = this.db): Promise<DeadLetter> {
    const projectId = await this.repo.projectId(project, db);
    const found = await this.repo.findDeadLetter(projectId, id, db);
    if (!found) {
      throw new SkalaError(
        "DEAD_LETTER_NOT_FOUND",
        `dead letter "${id}" does not exist in project "${project}"`,
        {
          project,
          deadLetter: id,
        },
      );
    }
    return found;
  }

  /**
   * Sends a dead letter's message again as a new delivery (a new id, every attempt again, signed afresh). A
   * dead letter redelivered before returns that delivery instead of making another (`created: false`).
   */
  async redeliver(
    project: string,
    id: string,
    db: Executor = this.db,
  ): Promise<{ delivery: Delivery; created: boolean }> {
    const outcome = await inTransaction(db, async (trx) => {
      const letter = await this.deadLetter(project, id, trx);
      if (letter.redeliveryId !== null) {
        const earlier = await this.delivery(letter.redeliveryId, trx);
        if (earlier) return { delivery: earlier, created: false };
      }
      const original = await this.repo.findDelivery(letter.deliveryId, trx);
      const webhook =
        original && (await this.repo.findWebhook(original.project_id, original.webhook_id, trx));
      if (!original || !webhook) throw notFound(project, letter.webhookId);
      if (webhook.enabled !== 1) {
        throw new SkalaError("CONFLICT", `webhook "${webhook.id}" is disabled; enable it to redeliver`, {
          project,
          webhook: webhook.id,
        });
      }
      const previous = JSON.parse(original.body) as WebhookPayload;
      const deliveryId = await this.enqueueDelivery(trx, {
        projectId: original.project_id,
        webhookId: original.webhook_id,
        payload: { ...previous, id: "" },
      });
      await this.repo.markRedelivered(letter.id, deliveryId, this.clock.now().toISOString(), trx);
      return { delivery: (await this.delivery(deliveryId, trx)) as Delivery, created: true };
    });
    if (outcome.created) this.wake();
    return outcome;
  }

  /**
   * Queues one delivery of `event` to each enabled subscription of the project whose filters match the alert,
   * in the caller's transaction; returns how many. The caller wakes the pools after its commit.
   */
  async fanOut(
    trx: Executor,
    target: { projectId: string; project: string; event: AlertEvent; alert: Alert },
  ): Promise<number> {
    const webhooks = await this.repo.listWebhooks(target.projectId, trx);
    let queued = 0;
    for (const row of webhooks) {
      if (row.enabled !== 1) continue;
      const severities = JSON.parse(row.severities) as Severity[];
      const sources = JSON.parse(row.sources) as string[];
      if (severities.length > 0 && !severities.includes(target.alert.severity)) continue;
      if (sources.length > 0 && !sources.includes(target.alert.source)) continue;
      await this.enqueueDelivery(trx, {
        projectId: target.projectId,
        webhookId: row.id,
        payload: {
          id: "",
          event: target.event,
          createdAt: this.clock.now().toISOString(),
          project: target.project,
          alert: target.alert,
        },
      });
      queued++;
    }
    return queued;
  }

  private async enqueueDelivery(
    trx: Executor,
    target: { projectId: string; webhookId: string; payload: WebhookPayload },
  ): Promise<string> {
    const now = this.clock.now();
    const id = newId("dlv", now);
    const body = JSON.stringify({ ...target.payload, id });
    await this.repo.insertDelivery(
      {
        id,
        project_id: target.projectId,
        webhook_id: target.webhookId,
        alert_id: target.payload.alert.id,
        event: target.payload.event,
        body,
        status: "pending",
        attempts: 0,
        last_status: null,
        last_error: null,
        next_attempt_at: now.toISOString(),
        created_at: now.toISOString(),
        updated_at: now.toISOString(),
        delivered_at: null,
      },
      trx,
    );
    await this.attemptJob(trx, id, 1, now);
    return id;
  }

  private async attemptJob(
    trx: Executor,
    deliveryId: string,
    attempt: number,
    runAfter: Date,
  ): Promise<void> {
    const payload: DeliverPayload = { deliveryId, attempt };
    await this.jobs.enqueue(
      [{ kind: DELIVER_JOB, payload, idempotencyKey: `${DELIVER_JOB}:${deliveryId}:${attempt}`, runAfter }],
      trx,
    );
  }

  /** One attempt of one delivery: the `alerts.deliver` job's handler. */
  async deliver(payload: DeliverPayload, signal?: AbortSignal): Promise<DeliverResult> {
    const { deliveryId, attempt } = payload;
    const skipped: DeliverResult = { deliveryId, attempt, outcome: "skipped", status: null };
    const row = await this.repo.findDelivery(deliveryId, this.db);
    // Removed with its subscription, finished, or this attempt was recorded before a crash: nothing to do.
    if (row?.status !== "pending" || row.attempts >= attempt) return skipped;
    const webhook = await this.repo.findWebhook(row.project_id, row.webhook_id, this.db);
    if (!webhook) return skipped;
    if (webhook.enabled !== 1) {
      await this.repo.updateDelivery(
        deliveryId,
        { status: "cancelled", next_attempt_at: null, updated_at: this.clock.now().toISOString() },
        this.db,
      );
      return { ...skipped, outcome: "cancelled" };
    }
    const sentAt = this.clock.now();
    const response = await this.transport.send({
      url: webhook.url,
      body: row.body,
      timeoutMs: this.timeoutMs,
      headers: {
        "content-type": "application/json",
        "user-agent": "skala-alerts/1",
        "skala-event": row.event,
        "skala-delivery": row.id,
        "skala-attempt": String(attempt),
        "skala-signature": signatureHeader(webhook.secret, row.body, Math.floor(sentAt.getTime() / 1000)),
      },
      ...(signal && { signal }),
    });
    // A stopping worker: not the receiver's fault; the job goes back to the queue and this attempt runs again.
    if (signal?.aborted) throw signal.reason ?? new Error("delivery stopped");
    const now = this.clock.now();
    const nowIso = now.toISOString();
    const status = response.kind === "answered" ? response.status : null;
    if (status !== null && status >= 200 && status < 300) {
      await this.repo.updateDelivery(
        deliveryId,
        {
          status: "delivered",
          attempts: attempt,
          last_status: status,
          last_error: null,
          next_attempt_at: null,
          delivered_at: nowIso,
          updated_at: nowIso,
        },
        this.db,
      );
      return { deliveryId, attempt, outcome: "delivered", status };
    }
    const error = clip(response.kind === "answered" ? `HTTP ${response.status}` : response.error);
    if (isRetryable(status) && attempt < this.maxAttempts) {
      const retryAfter =
        response.kind === "answered" && (status === 429 || status === 503)
          ? parseRetryAfter(response.retryAfter, now)
          : undefined;
      const next = new Date(now.getTime() + retryDelayMs(attempt, this.schedule, this.random, retryAfter));
      await inTransaction(this.db, async (trx) => {
        await this.repo.updateDelivery(
          deliveryId,
          {
            attempts: attempt,
            last_status: status,
            last_error: error,
            next_attempt_at: next.toISOString(),
            updated_at: nowIso,
          },
          trx,
        );
        await this.attemptJob(trx, deliveryId, attempt + 1, next);
      });
      return { deliveryId, attempt, outcome: "retry", status, nextAttemptAt: next.toISOString() };
    }
    await inTransaction(this.db, async (trx) => {
      await this.repo.updateDelivery(
        deliveryId,
        {
          status: "dead",
          attempts: attempt,
          last_status: status,
          last_error: error,
          next_attempt_at: null,
          updated_at: nowIso,
        },
        trx,
      );
      await this.repo.insertDeadLetter(
        {
          id: newId("dlt", now),
          project_id: row.project_id,
          delivery_id: deliveryId,
          webhook_id: row.webhook_id,
          alert_id: row.alert_id,
          attempts: attempt,
          last_status: status,
          last_error: error,
          created_at: nowIso,
          redelivered_at: null,
          redelivery_id: null,
        },
        trx,
      );
    });
    return { deliveryId, attempt, outcome: "dead", status };
  }
}
