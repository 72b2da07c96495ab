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
import { type Executor, inTransaction, type SqlDialect, type Store } from "../store/index.js";
import { AlertsRepository, toAlert } from "./alerts.repository.js";
import {
  ALERT_LIMITS,
  ALERT_STATUSES,
  type Alert,
  type AlertActionInput,
  type AlertEvent,
  type AlertStatus,
  type ListAlertsOptions,
  type Page,
  type RaiseAlertInput,
  type RaiseAlertResult,
  SEVERITIES,
  severityRank,
} from "./alerts.types.js";
import type { WebhookService } from "./webhook.service.js";

export interface AlertServiceOptions {
  store: Pick<Store, "db" | "sqlDialect">;
  /** Told of every raise, escalation, acknowledgement and resolution, in the same transaction. */
  webhooks?: WebhookService;
  clock?: Clock;
  /** Largest page of a listing. Default 1,000. */
  pageSizeMax?: number;
}

const SOURCE_PATTERN = /^[a-z][a-z0-9._-]{0,62}$/;
const DEFAULT_STATUSES: readonly AlertStatus[] = ["open", "acknowledged"];

function text(
  issues: ValidationIssue[],
  path: string,
  value: unknown,
  max: number,
  options: { optional?: boolean } = {},
): void {
  if (value === undefined && options.optional) return;
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    issues.push({ path, message: `must be a string of 1 to ${max} characters` });
  }
}

/** The evidence as JSON text, refused past the size bound (EVIDENCE_TOO_LARGE) or when not JSON. */
function evidenceText(evidence: unknown): string {
  let serialised: string | undefined;
  try {
    serialised = JSON.stringify(evidence ?? null);
  } catch (error) {
    throw validationError([{ path: "/evidence", message: `must be JSON (${(error as Error).message})` }]);
  }
  if (serialised === undefined) throw validationError([{ path: "/evidence", message: "must be JSON" }]);
  const bytes = Buffer.byteLength(serialised);
  if (bytes > ALERT_LIMITS.evidenceBytes) {
    throw new SkalaError(
      "EVIDENCE_TOO_LARGE",
      `the evidence is ${bytes} bytes as JSON; alerts accept at most ${ALERT_LIMITS.evidenceBytes}`,
      { bytes, limit: ALERT_LIMITS.evidenceBytes },
    );
  }
  return serialised;
}

function checkRaise(input: RaiseAlertInput): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (typeof input.source !== "string" || !SOURCE_PATTERN.test(input.source)) {
    issues.push({
      path: "/source",
      message: "must be a lower-case name (a-z, 0-9, . _ -), at most 63 characters",
    });
  }
  if (!(SEVERITIES as readonly unknown[]).includes(input.severity)) {
    issues.push({ path: "/severity", message: `must be one of ${SEVERITIES.join(", ")}` });
  }
  text(issues, "/subject", input.subject, ALERT_LIMITS.subjectChars);
  text(issues, "/title", input.title, ALERT_LIMITS.titleChars);
  text(issues, "/reason", input.reason, ALERT_LIMITS.reasonChars);
  text(issues, "/dedupKey", input.dedupKey, ALERT_LIMITS.dedupKeyChars, { optional: true });
  return issues;
}

function checkAction(input: AlertActionInput): void {
  const issues: ValidationIssue[] = [];
  text(issues, "/by", input.by, ALERT_LIMITS.actorChars);
  if (
    input.note !== undefined &&
    (typeof input.note !== "string" || input.note.length > ALERT_LIMITS.noteChars)
  ) {
    issues.push({
      path: "/note",
      message: `must be a string of at most ${ALERT_LIMITS.noteChars} characters`,
    });
  }
  if (issues.length > 0) throw validationError(issues);
}

function notFound(project: string, id: string): SkalaError {
  return new SkalaError("ALERT_NOT_FOUND", `alert "${id}" does not exist in project "${project}"`, {
    project,
    alert: id,
  });
}

/**
 * Alerts: raised by monitoring, the autopilot or outside systems, deduplicated while unresolved, and worked
 * through by people (acknowledge, resolve) in an inbox ordered most severe first. Each change that a
 * subscriber would want to hear of queues its webhook deliveries in the same transaction.
 *
 * @example
 * const alerts = new AlertService({ store, webhooks });
 * const { alert, created } = await alerts.raise("default", {
 *   source: "monitoring", subject: "model:part-A12", severity: "critical",
 *   title: "MASE doubled", reason: "MASE 2.4 over the last 3 periods, reference 1.1", evidence: { mase: 2.4 },
 *   dedupKey: "performance:part-A12",
 * });
 * await alerts.acknowledge("default", alert.id, { by: "ana", note: "retraining" });
 */
export class AlertService {
  private readonly db: Executor;
  private readonly dialect: SqlDialect;
  private readonly repo = new AlertsRepository();
  private readonly webhooks: WebhookService | undefined;
  private readonly clock: Clock;
  private readonly pageSizeMax: number;

  constructor(options: AlertServiceOptions) {
    this.db = options.store.db;
    this.dialect = options.store.sqlDialect;
    this.webhooks = options.webhooks;
    this.clock = options.clock ?? systemClock;
    this.pageSizeMax = options.pageSizeMax ?? 1_000;
  }

  /**
   * Opens an alert, or, when an unresolved one has the same dedup key, counts the raise on it: last seen and
   * count move, title, reason and evidence become the latest, and the severity only ever rises (a rise reopens an
   * acknowledged alert and is delivered as `alert.escalated`).
   */
  async raise(project: string, input: RaiseAlertInput, db: Executor = this.db): Promise<RaiseAlertResult> {
    const issues = checkRaise(input);
    if (issues.length > 0) throw validationError(issues);
    const evidence = evidenceText(input.evidence);
    const dedupKey =
      input.dedupKey ??
      `${input.source}|${input.subject}|${input.title}`.slice(0, ALERT_LIMITS.dedupKeyChars);
    let queued = 0;
    const result = await inTransaction(db, async (trx) => {
      const projectId = await this.repo.projectId(project, trx);
      // Raises of one key queue here on PostgreSQL; the unique (project, open_key) holds across processes.
      await this.dialect.lockKey(trx, `alert:${projectId}:${dedupKey}`);
      const now = this.clock.now().toISOString();
      const open = await this.repo.findOpen(projectId, dedupKey, trx);
      let event: AlertEvent | undefined;
      let id: string;
      if (open) {
        id = open.id;
        const escalated = severityRank(input.severity) > open.severity_rank;
        await this.repo.updateAlert(
          open.id,
          {
            count: Math.min(open.count + 1, 2 ** 31 - 1),
            last_seen_at: now,
            title: input.title,
            reason: input.reason,
            evidence,
            updated_at: now,
            ...(escalated && {
              severity: input.severity,
              severity_rank: severityRank(input.severity),
              status: "open",
            }),
          },
          trx,
        );
        if (escalated) event = "alert.escalated";
      } else {
        id = newId("alr", new Date(now));
        await this.repo.insertAlert(
          {
            id,
            project_id: projectId,
            source: input.source,
            subject: input.subject,
            severity: input.severity,
            severity_rank: severityRank(input.severity),
            title: input.title,
            reason: input.reason,
            evidence,
            dedup_key: dedupKey,
            open_key: dedupKey,
            status: "open",
            count: 1,
            first_seen_at: now,
            last_seen_at: now,
            acknowledged_by: null,
            acknowledged_at: null,
            acknowledged_note: null,
            resolved_by: null,
            resolved_at: null,
            resolved_note: null,
            updated_at: now,
          },
          trx,
        );
        event = "alert.raised";
      }
      const alert = await this.get(project, id, trx);
      if (event) queued = await this.notify(trx, projectId, event, alert);
      return { alert, created: !open };
    });
    if (queued > 0) this.webhooks?.wake();
    return result;
  }

  /** open → acknowledged; acknowledging again returns the alert unchanged; a resolved one is ALERT_RESOLVED. */
  async acknowledge(
    project: string,
    id: string,
    input: AlertActionInput,
    db: Executor = this.db,
  ): Promise<Alert> {
    checkAction(input);
    return this.transition(project, id, db, async (trx, alert, projectId) => {
      if (alert.status === "acknowledged") return { alert, queued: 0 };
      const now = this.clock.now().toISOString();
      await this.repo.updateAlert(
        id,
        {
          status: "acknowledged",
          acknowledged_by: input.by,
          acknowledged_at: now,
          acknowledged_note: input.note ?? null,
          updated_at: now,
        },
        trx,
      );
      const updated = await this.get(project, id, trx);
      return { alert: updated, queued: await this.notify(trx, projectId, "alert.acknowledged", updated) };
    });
  }

  /** open | acknowledged → resolved, which frees its dedup key; a resolved alert is ALERT_RESOLVED. */
  async resolve(
    project: string,
    id: string,
    input: AlertActionInput,
    db: Executor = this.db,
  ): Promise<Alert> {
    checkAction(input);
    return this.transition(project, id, db, async (trx, _alert, projectId) => {
      const now = this.clock.now().toISOString();
      await this.repo.updateAlert(
        id,
        {
          status: "resolved",
          open_key: null,
          resolved_by: input.by,
          resolved_at: now,
          resolved_note: input.note ?? null,
          updated_at: now,
        },
        trx,
      );
      const updated = await this.get(project, id, trx);
      return { alert: updated, queued: await this.notify(trx, projectId, "alert.resolved", updated) };
    });
  }

  /**
   * Resolves the unresolved alert with this dedup key, if there is one (a source whose condition cleared);
   * undefined when none is open.
   */
  async resolveByKey(
    project: string,
    dedupKey: string,
    input: AlertActionInput,
    db: Executor = this.db,
  ): Promise<Alert | undefined> {
    const projectId = await this.repo.projectId(project, db);
    const open = await this.repo.findOpen(projectId, dedupKey, db);
    return open ? this.resolve(project, open.id, input, db) : undefined;
  }

  async get(project: string, id: string, db: Executor = this.db): Promise<Alert> {
    const projectId = await this.repo.projectId(project, db);
    const row = await this.repo.findAlert(projectId, id, db);
    if (!row) throw notFound(project, id);
    return toAlert(row, project);
  }

  /** The inbox: most severe first, then newest; unresolved alerts unless `status` says otherwise. */
  async list(project: string, options: ListAlertsOptions = {}, db: Executor = this.db): Promise<Page<Alert>> {
    const projectId = await this.repo.projectId(project, db);
    const statuses =
      options.status && options.status.length > 0 ? [...new Set(options.status)] : DEFAULT_STATUSES;
    const issues: ValidationIssue[] = [];
    if (!statuses.every((s) => (ALERT_STATUSES as readonly string[]).includes(s))) {
      issues.push({ path: "/status", message: `must be among ${ALERT_STATUSES.join(", ")}` });
    }
    if (options.severity && !options.severity.every((s) => (SEVERITIES as readonly string[]).includes(s))) {
      issues.push({ path: "/severity", message: `must be among ${SEVERITIES.join(", ")}` });
    }
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1)
      issues.push({ path: "/limit", message: "must be an integer ≥ 1" });
    if (issues.length > 0) throw validationError(issues);
    const pageSize = Math.min(limit, this.pageSizeMax);
    const severities = options.severity ? [...new Set(options.severity)].sort() : [];
    const fingerprint = JSON.stringify([
      "alerts",
      project,
      [...statuses].sort(),
      severities,
      options.source ?? null,
      options.subject ?? null,
    ]);
    const after = options.cursor ? decodeIntegerCursor(options.cursor, fingerprint) : undefined;
    const rows = await this.repo.listAlerts(
      {
        projectId,
        statuses,
        limit: pageSize + 1,
        ...(severities.length > 0 && { severities }),
        ...(options.source !== undefined && { source: options.source }),
        ...(options.subject !== undefined && { subject: options.subject }),
        ...(after && { after: { rank: after.key, id: after.id } }),
      },
      db,
    );
    const page = rows.slice(0, pageSize);
    const last = page.at(-1);
    return {
      items: page.map((row) => toAlert(row, project)),
      nextCursor:
        rows.length > pageSize && last
          ? encodeCursor({ key: last.severity_rank, id: last.id }, fingerprint)
          : null,
    };
  }

  private async transition(
    project: string,
    id: string,
    db: Executor,
    change: (trx: Executor, alert: Alert, projectId: string) => Promise<{ alert: Alert; queued: number }>,
  ): Promise<Alert> {
    const { alert, queued } = await inTransaction(db, async (trx) => {
      const projectId = await this.repo.projectId(project, trx);
      await this.dialect.lockKey(trx, `alert-id:${id}`);
      const current = await this.get(project, id, trx);
      if (current.status === "resolved") {
        throw new SkalaError(
          "ALERT_RESOLVED",
          `alert "${id}" was resolved at ${current.resolved?.at} by ${current.resolved?.by}`,
          { project, alert: id },
        );
      }
      return change(trx, current, projectId);
    });
    if (queued > 0) this.webhooks?.wake();
    return alert;
  }

  private async notify(trx: Executor, projectId: string, event: AlertEvent, alert: Alert): Promise<number> {
    if (!this.webhooks) return 0;
    return this.webhooks.fanOut(trx, { projectId, project: alert.project, event, alert });
  }
}
