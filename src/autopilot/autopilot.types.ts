import type { LimitedAction } from "./policy.schema.js";
import type { FiredCheck } from "./ports.js";

export const ACTION_KINDS = ["retrain", "evaluate", "promote", "rollback", "request-approval"] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/**
 * succeeded: done (for a request: approved and carried out); skipped: refused (rate limit, the champion
 * moved meanwhile) and tried again when the same evidence comes back; awaiting-approval: a request waits for a
 * person; rejected, expired: what became of a request nobody approved; failed: the action's work threw.
 */
export const ACTION_STATUSES = [
  "succeeded",
  "skipped",
  "awaiting-approval",
  "rejected",
  "expired",
  "failed",
] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

export const APPROVAL_STATUSES = ["pending", "approved", "rejected", "expired"] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export type JsonObject = { [key: string]: unknown };

/** A move of the champion alias that promote and rollback make. */
export interface AliasMove {
  readonly fromVersion: number;
  readonly toVersion: number;
}

interface DecidedBase {
  readonly project: string;
  readonly model: string;
  readonly policy: string;
  /** Same trigger and same evidence give the same key; the ledger does each key at most once. */
  readonly key: string;
  readonly reason: string;
  readonly evidence: JsonObject;
  /** Set when the engine refuses the action (a rate limit): it is recorded as skipped with this reason. */
  readonly skip?: string;
}

/** One action the engine decided, for the service to execute through the ledger. */
export type DecidedAction =
  | (DecidedBase & {
      readonly kind: "retrain";
      readonly fleet: string | null;
      readonly segments: readonly string[];
    })
  | (DecidedBase & { readonly kind: "evaluate" })
  | (DecidedBase & { readonly kind: "promote" | "rollback" } & AliasMove)
  | (DecidedBase & {
      readonly kind: "request-approval";
      readonly proposed: "promote" | "rollback";
      readonly expiresAfterHours: number;
    } & AliasMove);

/** A ledger entry as the engine sees it (for idempotency and rate limits). */
export interface PastAction {
  readonly kind: ActionKind;
  readonly status: ActionStatus;
  readonly key: string;
  /** When it was done (or last refused). */
  readonly at: string;
}

/** Everything the engine knows about one model when it decides; built by the service, or by a test. */
export interface ModelState {
  readonly project: string;
  readonly model: string;
  readonly fleet: string | null;
  /** ISO time of the decision. */
  readonly now: string;
  readonly champion: {
    readonly version: number;
    /** When the alias last moved to this version. */
    readonly since: string;
    /** The version it replaced, from the alias history. */
    readonly previous: number | null;
    /** The mean absolute error the autopilot promoted it on, when the autopilot promoted it. */
    readonly promotedOnMeanError: number | null;
  } | null;
  /** The newest version above the champion, when there is one. */
  readonly challenger: { readonly version: number } | null;
  /** Paired recent errors (challenger empty when there is none). */
  readonly errors: {
    readonly champion: readonly number[];
    readonly challenger: readonly number[];
    readonly windowEnd: string;
  } | null;
  readonly checks: readonly FiredCheck[];
  readonly newActuals: { readonly count: number; readonly mark: string };
  readonly history: readonly PastAction[];
}

/** A ledger row. */
export interface ActionRecord {
  readonly id: string;
  readonly project: string;
  readonly model: string;
  readonly policy: string;
  readonly kind: ActionKind;
  readonly idempotencyKey: string;
  readonly status: ActionStatus;
  readonly reason: string;
  readonly evidence: JsonObject;
  readonly approvalId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ApprovalRecord {
  readonly id: string;
  readonly project: string;
  readonly model: string;
  readonly policy: string;
  readonly action: "promote" | "rollback";
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly idempotencyKey: string;
  readonly reason: string;
  readonly evidence: JsonObject;
  readonly status: ApprovalStatus;
  readonly requestedAt: string;
  readonly expiresAt: string;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  readonly note: string | null;
}

export type { LimitedAction };
