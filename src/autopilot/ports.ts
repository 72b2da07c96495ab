import type { Executor } from "../store/index.js";
import type { ComparisonTest, HealthLevel } from "./policy.schema.js";

/**
 * What the autopilot needs from outside its own folder, as small interfaces. The composition root wires them
 * to the real capabilities (statistics, monitoring, fleets); tests use the in-process implementations in
 * test-support/.
 */

export interface CompareOptions {
  readonly test: ComparisonTest;
  /** Forecast horizon (Diebold–Mariano). */
  readonly h?: number;
  /** Power of the loss (Diebold–Mariano). */
  readonly power?: number;
  /** Smallest effect that counts (rank test). */
  readonly minEffect?: number;
  readonly alpha: number;
}

export interface Comparison {
  /** The challenger's errors are significantly smaller (at alpha, and by at least minEffect where given). */
  readonly better: boolean;
  readonly statistic: number;
  readonly pValue: number;
  readonly effect: number;
}

/**
 * Challenger against champion on the same recent data: the errors are paired (same periods, same order).
 * A pure function: the engine calls it while deciding.
 */
export type ComparePort = (
  championErrors: readonly number[],
  challengerErrors: readonly number[],
  options: CompareOptions,
) => Comparison;

export interface RetrainRequest {
  readonly project: string;
  /** The fleet the segments belong to; null for a model outside any fleet. */
  readonly fleet: string | null;
  readonly segments: readonly string[];
  /** The action's idempotency key: the same key must never queue the work twice. */
  readonly idempotencyKey: string;
  readonly reason: string;
}

/** "Retrain these segments of this fleet", as jobs on the queue, in the caller's transaction. */
export interface RetrainPort {
  retrain(request: RetrainRequest, db: Executor): Promise<{ jobIds: string[] }>;
}

export interface FiredCheck {
  readonly name: string;
  readonly level: HealthLevel;
  /** When the check started firing; part of the evidence key, so one firing triggers once. */
  readonly firedAt: string;
}

/** What monitoring knows about one model; the lead wires it to the monitoring capability. */
export interface EvidencePort {
  /** The checks firing for the model now. */
  firedChecks(project: string, model: string): Promise<FiredCheck[]>;
  /** Actuals received for the model since `since` (all of them when null), and a mark of the newest one. */
  newActuals(project: string, model: string, since: string | null): Promise<{ count: number; mark: string }>;
  /**
   * Paired recent errors of two versions on the same periods (the champion's and a challenger's, or only the
   * champion's when `challenger` is null), oldest first, and the end of the window they cover.
   */
  recentErrors(
    project: string,
    model: string,
    versions: { champion: number; challenger: number | null },
  ): Promise<{ champion: number[]; challenger: number[]; windowEnd: string } | null>;
}
