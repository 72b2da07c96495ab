import type { Transaction } from "kysely";
import { type Clock, isSkalaError, newId } from "../core/index.js";
import type { Registry } from "../registry/index.js";
import { type Database, type Executor, inTransaction, type SqlDialect } from "../store/index.js";
import type { ActionRecord, ActionStatus, AliasMove, DecidedAction, JsonObject } from "./autopilot.types.js";
import { limitedKind } from "./decide.js";
import type { LedgerRepository } from "./ledger.repository.js";
import type { Policy } from "./policy.js";
import type { RetrainPort } from "./ports.js";

/** The alias promote and rollback move. */
export const CHAMPION = "champion";

/** What happened to one decided action. */
export type ActionOutcome =
  /** Done now. */
  | "done"
  /** Its key was in the ledger already (done, waiting, rejected): nothing was done again. */
  | "duplicate"
  /** Refused (rate limit, the champion moved) and recorded as skipped. */
  | "skipped"
  /** An approval request was opened. */
  | "requested"
  /** Its work threw; recorded as failed. */
  | "failed";

export interface ExecutedAction {
  readonly outcome: ActionOutcome;
  readonly action: ActionRecord;
}

/** Hooks for tests and logs; called inside the action's transaction, after its work and before its record. */
export interface AutopilotObserver {
  actionApplied?(action: DecidedAction): void | Promise<void>;
}

export interface ActionExecutorOptions {
  db: Executor;
  sqlDialect: SqlDialect;
  registry: Pick<Registry, "versions">;
  retrain: RetrainPort;
  clock: Clock;
  ledger: LedgerRepository;
  observer?: AutopilotObserver;
}

/**
 * Carries out decided actions through the ledger, each in one transaction with its record: the champion's
 * alias move and its ledger row commit together, a retrain's jobs and its row likewise. The ledger's unique
 * (project, idempotency key) makes each key happen at most once; a lock on the model makes concurrent runs
 * (PostgreSQL) queue instead of racing.
 */
export class ActionExecutor {
  constructor(private readonly options: ActionExecutorOptions) {}

  async execute(action: DecidedAction, policy: Pick<Policy, "limits"> | null): Promise<ExecutedAction> {
    const { db } = this.options;
    try {
      return await inTransaction(db, (trx) => this.executeIn(trx, action, policy));
    } catch (error) {
      // Nothing of the action's work committed; record that it failed, unless the key is already recorded.
      if (isSkalaError(error) && (error.code === "DATABASE_BUSY" || error.code === "SERVICE_UNAVAILABLE")) {
        throw error;
      }
      return inTransaction(db, async (trx) => {
        await this.lockModel(trx, action);
        const existing = await this.options.ledger.findAction(action.project, action.key, trx);
        if (existing && existing.status !== "skipped" && existing.status !== "failed") {
          return { outcome: "duplicate", action: existing };
        }
        const message = error instanceof Error ? error.message : String(error);
        const record = await this.record(
          trx,
          action,
          "failed",
          `${action.reason}; failed: ${message}`,
          existing,
          {
            error: message,
          },
        );
        return { outcome: "failed", action: record };
      });
    }
  }

  private async executeIn(
    trx: Transaction<Database>,
    action: DecidedAction,
    policy: Pick<Policy, "limits"> | null,
  ): Promise<ExecutedAction> {
    const { ledger } = this.options;
    await this.lockModel(trx, action);
    const existing = await ledger.findAction(action.project, action.key, trx);
    if (existing && existing.status !== "skipped" && existing.status !== "failed") {
      return { outcome: "duplicate", action: existing };
    }
    if (action.skip !== undefined) {
      return { outcome: "skipped", action: await this.record(trx, action, "skipped", action.skip, existing) };
    }
    // The engine decided on a snapshot; the ledger is the truth, so the limit is checked again here.
    const refusal = policy ? await this.rateLimitRefusal(trx, action, policy) : null;
    if (refusal !== null) {
      return { outcome: "skipped", action: await this.record(trx, action, "skipped", refusal, existing) };
    }
    switch (action.kind) {
      case "evaluate":
        return {
          outcome: "done",
          action: await this.record(trx, action, "succeeded", action.reason, existing),
        };
      case "retrain": {
        const { jobIds } = await this.options.retrain.retrain(
          {
            project: action.project,
            fleet: action.fleet,
            segments: action.segments,
            idempotencyKey: action.key,
            reason: action.reason,
          },
          trx,
        );
        await this.options.observer?.actionApplied?.(action);
        const record = await this.record(trx, action, "succeeded", action.reason, existing, { jobIds });
        return { outcome: "done", action: record };
      }
      case "promote":
      case "rollback": {
        const moved = await this.moveChampion(
          trx,
          action,
          action,
          `autopilot ${action.kind} (${action.policy})`,
        );
        if (moved !== null) {
          return { outcome: "skipped", action: await this.record(trx, action, "skipped", moved, existing) };
        }
        await this.options.observer?.actionApplied?.(action);
        return {
          outcome: "done",
          action: await this.record(trx, action, "succeeded", action.reason, existing),
        };
      }
      case "request-approval": {
        const now = this.options.clock.now();
        const approvalId = newId("apr", now);
        await ledger.insertApproval(
          {
            id: approvalId,
            project: action.project,
            model: action.model,
            policy: action.policy,
            action: action.proposed,
            fromVersion: action.fromVersion,
            toVersion: action.toVersion,
            idempotencyKey: action.key,
            reason: action.reason,
            evidence: action.evidence,
            status: "pending",
            requestedAt: now.toISOString(),
            expiresAt: new Date(now.getTime() + action.expiresAfterHours * 3_600_000).toISOString(),
            decidedBy: null,
            decidedAt: null,
            note: null,
          },
          trx,
        );
        await this.options.observer?.actionApplied?.(action);
        const record = await this.record(
          trx,
          action,
          "awaiting-approval",
          action.reason,
          existing,
          {
            proposed: action.proposed,
            fromVersion: action.fromVersion,
            toVersion: action.toVersion,
            approvalId,
          },
          approvalId,
        );
        return { outcome: "requested", action: record };
      }
    }
  }

  /**
   * Moves the champion from `move.fromVersion` to `move.toVersion` in `trx`; returns why not (as a skip
   * reason) when the champion is no longer the version the decision was made on.
   */
  async moveChampion(
    trx: Transaction<Database>,
    where: { project: string; model: string },
    move: AliasMove,
    reason: string,
  ): Promise<string | null> {
    const { versions } = this.options.registry;
    let current: number | null;
    try {
      current = (await versions.alias(where.project, where.model, CHAMPION, trx)).version;
    } catch (error) {
      if (isSkalaError(error) && (error.code === "ALIAS_NOT_FOUND" || error.code === "VERSION_NOT_FOUND")) {
        current = null;
      } else throw error;
    }
    if (current !== move.fromVersion) {
      return `the champion is ${current === null ? "not set" : `version ${current}`} now, not ${move.fromVersion} as decided: nothing moved`;
    }
    await versions.setAlias(where.project, where.model, CHAMPION, { version: move.toVersion, reason }, trx);
    return null;
  }

  async lockModel(trx: Transaction<Database>, where: { project: string; model: string }): Promise<void> {
    await this.options.sqlDialect.lockKey(trx, `autopilot/${where.project}/${where.model}`);
  }

  private async rateLimitRefusal(
    trx: Transaction<Database>,
    action: DecidedAction,
    policy: Pick<Policy, "limits">,
  ): Promise<string | null> {
    const kind = limitedKind(action);
    const limit = kind && policy.limits[kind];
    if (!kind || !limit) return null;
    const now = this.options.clock.now();
    const since = new Date(now.getTime() - limit.perHours * 3_600_000).toISOString();
    const used = await this.options.ledger.countSucceeded(action.project, action.model, kind, since, trx);
    if (used < limit.max) return null;
    return `rate limit: at most ${limit.max} ${kind} per model per ${limit.perHours} h (${used} in the last ${limit.perHours} h)`;
  }

  /** Writes the action's ledger row (or updates the skipped or failed row of the same key). */
  async record(
    trx: Transaction<Database>,
    action: DecidedAction,
    status: ActionStatus,
    reason: string,
    existing: ActionRecord | undefined,
    extra: JsonObject = {},
    approvalId: string | null = null,
  ): Promise<ActionRecord> {
    const at = this.options.clock.now().toISOString();
    const evidence = { ...action.evidence, ...extra, ...moveOf(action) };
    if (existing) {
      await this.options.ledger.updateAction(existing.id, { status, reason, evidence, updatedAt: at }, trx);
      return { ...existing, status, reason, evidence, updatedAt: at };
    }
    const record: ActionRecord = {
      id: newId("act", new Date(at)),
      project: action.project,
      model: action.model,
      policy: action.policy,
      kind: action.kind,
      idempotencyKey: action.key,
      status,
      reason,
      evidence,
      approvalId,
      createdAt: at,
      updatedAt: at,
    };
    await this.options.ledger.insertAction(record, trx);
    return record;
  }
}

function moveOf(action: DecidedAction): JsonObject {
  switch (action.kind) {
    case "promote":
    case "rollback":
    case "request-approval":
      return { fromVersion: action.fromVersion, toVersion: action.toVersion };
    case "retrain":
      return { segments: [...action.segments], fleet: action.fleet };
    case "evaluate":
      return {};
  }
}
