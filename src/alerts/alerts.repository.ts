import type { Selectable } from "kysely";
import { SkalaError } from "../core/index.js";
import type {
  AlertDeadLettersTable,
  AlertDeliveriesTable,
  AlertsTable,
  AlertWebhooksTable,
  Executor,
} from "../store/index.js";
import type { Alert, AlertAction, AlertStatus, Severity } from "./alerts.types.js";
import type { DeadLetter, Delivery, DeliveryStatus, WebhookSubscription } from "./webhooks.types.js";

type AlertRow = Selectable<AlertsTable>;
type WebhookRow = Selectable<AlertWebhooksTable>;
type DeliveryRow = Selectable<AlertDeliveriesTable>;
type DeadLetterRow = Selectable<AlertDeadLettersTable>;

function action(by: string | null, at: string | null, note: string | null): AlertAction | null {
  return by === null || at === null ? null : { by, at, note };
}

export function toAlert(row: AlertRow, project: string): Alert {
  return {
    id: row.id,
    project,
    source: row.source,
    subject: row.subject,
    severity: row.severity as Severity,
    title: row.title,
    reason: row.reason,
    evidence: JSON.parse(row.evidence) as unknown,
    dedupKey: row.dedup_key,
    status: row.status as AlertStatus,
    count: row.count,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    acknowledged: action(row.acknowledged_by, row.acknowledged_at, row.acknowledged_note),
    resolved: action(row.resolved_by, row.resolved_at, row.resolved_note),
    updatedAt: row.updated_at,
  };
}

export function toWebhook(row: WebhookRow, project: string): WebhookSubscription {
  return {
    id: row.id,
    project,
    url: row.url,
    description: row.description,
    severities: JSON.parse(row.severities) as Severity[],
    sources: JSON.parse(row.sources) as string[],
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    alertId: row.alert_id,
    event: row.event as Delivery["event"],
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}

function toDeadLetter(row: DeadLetterRow & { event: string }): DeadLetter {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    webhookId: row.webhook_id,
    alertId: row.alert_id,
    event: row.event as DeadLetter["event"],
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: row.created_at,
    redeliveredAt: row.redelivered_at,
    redeliveryId: row.redelivery_id,
  };
}

export interface AlertListQuery {
  projectId: string;
  statuses: readonly AlertStatus[];
  severities?: readonly Severity[];
  source?: string;
  subject?: string;
  after?: { rank: number; id: string };
  limit: number;
}

/** The alerts tables (src/store/migrations.ts 0010_alerts); every method runs on the executor it is given. */
export class AlertsRepository {
  async projectId(project: string, db: Executor): Promise<string> {
    const row = await db.selectFrom("projects").select("id").where("name", "=", project).executeTakeFirst();
    if (!row) {
      throw new SkalaError("PROJECT_NOT_FOUND", `project "${project}" does not exist`, { project });
    }
    return row.id;
  }

  async insertAlert(row: AlertRow, db: Executor): Promise<void> {
    await db.insertInto("alerts").values(row).execute();
  }

  async findOpen(projectId: string, dedupKey: string, db: Executor): Promise<AlertRow | undefined> {
    return db
      .selectFrom("alerts")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("open_key", "=", dedupKey)
      .executeTakeFirst();
  }

  async findAlert(projectId: string, id: string, db: Executor): Promise<AlertRow | undefined> {
    return db
      .selectFrom("alerts")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  async updateAlert(id: string, changes: Partial<AlertRow>, db: Executor): Promise<void> {
    await db.updateTable("alerts").set(changes).where("id", "=", id).execute();
  }

  async listAlerts(query: AlertListQuery, db: Executor): Promise<AlertRow[]> {
    let q = db
      .selectFrom("alerts")
      .selectAll()
      .where("project_id", "=", query.projectId)
      .where("status", "in", [...query.statuses]);
    if (query.severities && query.severities.length > 0) q = q.where("severity", "in", [...query.severities]);
    if (query.source !== undefined) q = q.where("source", "=", query.source);
    if (query.subject !== undefined) q = q.where("subject", "=", query.subject);
    const after = query.after;
    if (after) {
      q = q.where((eb) =>
        eb.or([
          eb("severity_rank", "<", after.rank),
          eb.and([eb("severity_rank", "=", after.rank), eb("id", "<", after.id)]),
        ]),
      );
    }
    return q.orderBy("severity_rank", "desc").orderBy("id", "desc").limit(query.limit).execute();
  }

  async insertWebhook(row: WebhookRow, db: Executor): Promise<void> {
    await db.insertInto("alert_webhooks").values(row).execute();
  }

  async findWebhook(projectId: string, id: string, db: Executor): Promise<WebhookRow | undefined> {
    return db
      .selectFrom("alert_webhooks")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  async listWebhooks(projectId: string, db: Executor): Promise<WebhookRow[]> {
    return db
      .selectFrom("alert_webhooks")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("id")
      .execute();
  }

  async updateWebhook(id: string, changes: Partial<WebhookRow>, db: Executor): Promise<void> {
    await db.updateTable("alert_webhooks").set(changes).where("id", "=", id).execute();
  }

  /** Removes the subscription with its deliveries and dead letters. */
  async deleteWebhook(id: string, db: Executor): Promise<void> {
    await db.deleteFrom("alert_dead_letters").where("webhook_id", "=", id).execute();
    await db.deleteFrom("alert_deliveries").where("webhook_id", "=", id).execute();
    await db.deleteFrom("alert_webhooks").where("id", "=", id).execute();
  }

  async insertDelivery(row: DeliveryRow, db: Executor): Promise<void> {
    await db.insertInto("alert_deliveries").values(row).execute();
  }

  async findDelivery(id: string, db: Executor): Promise<DeliveryRow | undefined> {
    return db.selectFrom("alert_deliveries").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async updateDelivery(id: string, changes: Partial<DeliveryRow>, db: Executor): Promise<void> {
    await db.updateTable("alert_deliveries").set(changes).where("id", "=", id).execute();
  }

  async listDeliveries(webhookId: string, limit: number, db: Executor): Promise<DeliveryRow[]> {
    return db
      .selectFrom("alert_deliveries")
      .selectAll()
      .where("webhook_id", "=", webhookId)
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
  }

  async insertDeadLetter(row: DeadLetterRow, db: Executor): Promise<void> {
    await db.insertInto("alert_dead_letters").values(row).execute();
  }

  private deadLetters(db: Executor) {
    return db
      .selectFrom("alert_dead_letters as d")
      .innerJoin("alert_deliveries as v", "v.id", "d.delivery_id")
      .selectAll("d")
      .select("v.event");
  }

  async findDeadLetter(projectId: string, id: string, db: Executor): Promise<DeadLetter | undefined> {
    const row = await this.deadLetters(db)
      .where("d.project_id", "=", projectId)
      .where("d.id", "=", id)
      .executeTakeFirst();
    return row && toDeadLetter(row);
  }

  async listDeadLetters(
    query: { projectId: string; webhookId?: string; after?: string; limit: number },
    db: Executor,
  ): Promise<DeadLetter[]> {
    let q = this.deadLetters(db).where("d.project_id", "=", query.projectId);
    if (query.webhookId !== undefined) q = q.where("d.webhook_id", "=", query.webhookId);
    if (query.after !== undefined) q = q.where("d.id", "<", query.after);
    const rows = await q.orderBy("d.id", "desc").limit(query.limit).execute();
    return rows.map(toDeadLetter);
  }

  async markRedelivered(id: string, redeliveryId: string, at: string, db: Executor): Promise<void> {
    await db
      .updateTable("alert_dead_letters")
      .set({ redelivered_at: at, redelivery_id: redeliveryId })
      .where("id", "=", id)
      .execute();
  }
}
