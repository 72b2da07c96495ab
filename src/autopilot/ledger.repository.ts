import type { Selectable } from "kysely";
import type { AutopilotActionsTable, AutopilotApprovalsTable, Executor } from "../store/index.js";
import { literalLimit } from "../store/index.js";
import type {
  ActionKind,
  ActionRecord,
  ActionStatus,
  ApprovalRecord,
  ApprovalStatus,
  JsonObject,
  PastAction,
} from "./autopilot.types.js";

/** How many past actions of one model the engine looks at (rate limits reach back a few days at most). */
const HISTORY_LIMIT = 1_000;

export interface ListActionsFilter {
  model?: string;
  kind?: ActionKind;
  status?: ActionStatus;
  limit: number;
}

/** The action ledger, the approval queue and the stored policies: Kysely queries that return domain objects. */
export class LedgerRepository {
  // --- actions ---------------------------------------------------------------------------------------------

  async findAction(project: string, key: string, db: Executor): Promise<ActionRecord | undefined> {
    const row = await db
      .selectFrom("autopilot_actions")
      .selectAll()
      .where("project", "=", project)
      .where("idempotency_key", "=", key)
      .executeTakeFirst();
    return row && actionOf(row);
  }

  async getAction(project: string, id: string, db: Executor): Promise<ActionRecord | undefined> {
    const row = await db
      .selectFrom("autopilot_actions")
      .selectAll()
      .where("project", "=", project)
      .where("id", "=", id)
      .executeTakeFirst();
    return row && actionOf(row);
  }

  async insertAction(record: ActionRecord, db: Executor): Promise<void> {
    await db
      .insertInto("autopilot_actions")
      .values({
        id: record.id,
        project: record.project,
        model: record.model,
        policy: record.policy,
        kind: record.kind,
        idempotency_key: record.idempotencyKey,
        status: record.status,
        reason: record.reason,
        evidence: JSON.stringify(record.evidence),
        approval_id: record.approvalId,
        created_at: record.createdAt,
        updated_at: record.updatedAt,
      })
      .execute();
  }

  async updateAction(
    id: string,
    change: { status: ActionStatus; reason: string; evidence: JsonObject; updatedAt: string },
    db: Executor,
  ): Promise<void> {
    await db
      .updateTable("autopilot_actions")
      .set({
        status: change.status,
        reason: change.reason,
        evidence: JSON.stringify(change.evidence),
        updated_at: change.updatedAt,
      })
      .where("id", "=", id)
      .execute();
  }

  /** The model's most recent actions, newest first, as the engine needs them. */
  async history(project: string, model: string, db: Executor): Promise<PastAction[]> {
    const rows = await db
      .selectFrom("autopilot_actions")
      .select(["kind", "status", "idempotency_key", "updated_at"])
      .where("project", "=", project)
      .where("model", "=", model)
      .orderBy("updated_at", "desc")
      .limit(literalLimit(HISTORY_LIMIT))
      .execute();
    return rows.map((r) => ({
      kind: r.kind as ActionKind,
      status: r.status as ActionStatus,
      key: r.idempotency_key,
      at: r.updated_at,
    }));
  }

  /** How many `kind` actions of the model succeeded after `since`. */
  async countSucceeded(
    project: string,
    model: string,
    kind: ActionKind,
    since: string,
    db: Executor,
  ): Promise<number> {
    const row = await db
      .selectFrom("autopilot_actions")
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .where("project", "=", project)
      .where("model", "=", model)
      .where("kind", "=", kind)
      .where("status", "=", "succeeded")
      .where("updated_at", ">", since)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The newest succeeded action of a kind for the model, if any. */
  async lastSucceeded(
    project: string,
    model: string,
    kinds: readonly ActionKind[],
    db: Executor,
  ): Promise<ActionRecord | undefined> {
    const row = await db
      .selectFrom("autopilot_actions")
      .selectAll()
      .where("project", "=", project)
      .where("model", "=", model)
      .where("kind", "in", [...kinds])
      .where("status", "=", "succeeded")
      .orderBy("updated_at", "desc")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return row && actionOf(row);
  }

  async listActions(project: string, filter: ListActionsFilter, db: Executor): Promise<ActionRecord[]> {
    let q = db.selectFrom("autopilot_actions").selectAll().where("project", "=", project);
    if (filter.model !== undefined) q = q.where("model", "=", filter.model);
    if (filter.kind !== undefined) q = q.where("kind", "=", filter.kind);
    if (filter.status !== undefined) q = q.where("status", "=", filter.status);
    const rows = await q
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(literalLimit(filter.limit))
      .execute();
    return rows.map(actionOf);
  }

  // --- approvals -------------------------------------------------------------------------------------------

  async insertApproval(record: ApprovalRecord, db: Executor): Promise<void> {
    await db
      .insertInto("autopilot_approvals")
      .values({
        id: record.id,
        project: record.project,
        model: record.model,
        policy: record.policy,
        action: record.action,
        from_version: record.fromVersion,
        to_version: record.toVersion,
        idempotency_key: record.idempotencyKey,
        reason: record.reason,
        evidence: JSON.stringify(record.evidence),
        status: record.status,
        requested_at: record.requestedAt,
        expires_at: record.expiresAt,
        decided_by: record.decidedBy,
        decided_at: record.decidedAt,
        note: record.note,
      })
      .execute();
  }

  async getApproval(project: string, id: string, db: Executor): Promise<ApprovalRecord | undefined> {
    const row = await db
      .selectFrom("autopilot_approvals")
      .selectAll()
      .where("project", "=", project)
      .where("id", "=", id)
      .executeTakeFirst();
    return row && approvalOf(row);
  }

  async listApprovals(
    project: string,
    filter: { status?: ApprovalStatus; model?: string; limit: number },
    db: Executor,
  ): Promise<ApprovalRecord[]> {
    let q = db.selectFrom("autopilot_approvals").selectAll().where("project", "=", project);
    if (filter.status !== undefined) q = q.where("status", "=", filter.status);
    if (filter.model !== undefined) q = q.where("model", "=", filter.model);
    const rows = await q
      .orderBy("requested_at", "desc")
      .orderBy("id", "desc")
      .limit(literalLimit(filter.limit))
      .execute();
    return rows.map(approvalOf);
  }

  /** Moves a pending request to its decision; false when it was no longer pending (someone decided first). */
  async decideApproval(
    id: string,
    decision: { status: ApprovalStatus; decidedBy: string | null; decidedAt: string; note: string | null },
    db: Executor,
  ): Promise<boolean> {
    const result = await db
      .updateTable("autopilot_approvals")
      .set({
        status: decision.status,
        decided_by: decision.decidedBy,
        decided_at: decision.decidedAt,
        note: decision.note,
      })
      .where("id", "=", id)
      .where("status", "=", "pending")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Pending requests of the project past their expiry time. */
  async expiredPending(project: string, now: string, db: Executor): Promise<ApprovalRecord[]> {
    const rows = await db
      .selectFrom("autopilot_approvals")
      .selectAll()
      .where("project", "=", project)
      .where("status", "=", "pending")
      .where("expires_at", "<=", now)
      .execute();
    return rows.map(approvalOf);
  }

  // --- policies --------------------------------------------------------------------------------------------

  async putPolicy(
    project: string,
    name: string,
    fleet: string | null,
    body: object,
    at: string,
    db: Executor,
  ): Promise<{ createdAt: string; updatedAt: string }> {
    const existing = await db
      .selectFrom("autopilot_policies")
      .select("created_at")
      .where("project", "=", project)
      .where("name", "=", name)
      .executeTakeFirst();
    await db
      .insertInto("autopilot_policies")
      .values({ project, name, fleet, body: JSON.stringify(body), created_at: at, updated_at: at })
      .onConflict((oc) =>
        oc.columns(["project", "name"]).doUpdateSet((eb) => ({
          fleet: eb.ref("excluded.fleet"),
          body: eb.ref("excluded.body"),
          updated_at: eb.ref("excluded.updated_at"),
        })),
      )
      .execute();
    return { createdAt: existing?.created_at ?? at, updatedAt: at };
  }

  async getPolicy(
    project: string,
    name: string,
    db: Executor,
  ): Promise<{ body: unknown; createdAt: string; updatedAt: string } | undefined> {
    const row = await db
      .selectFrom("autopilot_policies")
      .select(["body", "created_at", "updated_at"])
      .where("project", "=", project)
      .where("name", "=", name)
      .executeTakeFirst();
    return row && { body: JSON.parse(row.body), createdAt: row.created_at, updatedAt: row.updated_at };
  }

  async listPolicies(
    project: string,
    db: Executor,
  ): Promise<Array<{ name: string; body: unknown; updatedAt: string }>> {
    const rows = await db
      .selectFrom("autopilot_policies")
      .select(["name", "body", "updated_at"])
      .where("project", "=", project)
      .orderBy("name")
      .execute();
    return rows.map((r) => ({ name: r.name, body: JSON.parse(r.body), updatedAt: r.updated_at }));
  }
}

function actionOf(row: Selectable<AutopilotActionsTable>): ActionRecord {
  return {
    id: row.id,
    project: row.project,
    model: row.model,
    policy: row.policy,
    kind: row.kind as ActionKind,
    idempotencyKey: row.idempotency_key,
    status: row.status as ActionStatus,
    reason: row.reason,
    evidence: JSON.parse(row.evidence) as JsonObject,
    approvalId: row.approval_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function approvalOf(row: Selectable<AutopilotApprovalsTable>): ApprovalRecord {
  return {
    id: row.id,
    project: row.project,
    model: row.model,
    policy: row.policy,
    action: row.action as "promote" | "rollback",
    fromVersion: row.from_version,
    toVersion: row.to_version,
    idempotencyKey: row.idempotency_key,
    reason: row.reason,
    evidence: JSON.parse(row.evidence) as JsonObject,
    status: row.status as ApprovalStatus,
    requestedAt: row.requested_at,
    expiresAt: row.expires_at,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    note: row.note,
  };
}
