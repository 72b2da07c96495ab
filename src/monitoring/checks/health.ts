/**
 * Health: one level per model from its check results, and a fleet (or project) summary that counts the levels
 * and lists only the exceptions, most important first.
 */
import type { CheckResult } from "./check-evaluator.js";

export type HealthLevel = "healthy" | "warning" | "critical";

export interface HealthReason {
  readonly check: string;
  readonly kind: CheckResult["kind"];
  readonly severity: CheckResult["severity"];
  readonly outcome: "violated" | "inconclusive";
  readonly message: string;
  readonly exceedance: number;
  readonly latest: number | null;
}

export interface ModelHealth {
  readonly model: string;
  readonly level: HealthLevel;
  /** Violated checks (critical first, then by exceedance, then the most recent), then inconclusive ones. */
  readonly reasons: readonly HealthReason[];
  /** The results behind the reasons, in the same order. */
  readonly evidence: readonly CheckResult[];
  /** The largest exceedance among the checks that set the level (0 when healthy). */
  readonly exceedance: number;
  /** The newest data any result rests on. */
  readonly latest: number | null;
  readonly counts: { readonly satisfied: number; readonly violated: number; readonly inconclusive: number };
}

export interface HealthSummary {
  readonly total: number;
  readonly counts: Readonly<Record<HealthLevel, number>>;
  /** Models with at least one inconclusive check (whatever their level). */
  readonly inconclusive: number;
  /** The models that are not healthy, most important first (see `compareHealth`). */
  readonly exceptions: readonly ModelHealth[];
}

const SEVERITY_RANK = { critical: 0, warning: 1 } as const;
const LEVEL_RANK: Record<HealthLevel, number> = { critical: 0, warning: 1, healthy: 2 };

function newer(a: number | null, b: number | null): number {
  return (b ?? Number.NEGATIVE_INFINITY) - (a ?? Number.NEGATIVE_INFINITY);
}

/** Violated before inconclusive, critical before warning, larger exceedance first, newer first, then by id. */
export function compareResults(a: CheckResult, b: CheckResult): number {
  const outcome = (r: CheckResult) => (r.outcome === "violated" ? 0 : r.outcome === "inconclusive" ? 1 : 2);
  return (
    outcome(a) - outcome(b) ||
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
    b.exceedance - a.exceedance ||
    newer(a.latest, b.latest) ||
    (a.check < b.check ? -1 : a.check > b.check ? 1 : 0)
  );
}

/**
 * A model's health: critical when a critical check is violated, warning when only warning checks are, healthy
 * otherwise. Inconclusive checks (not enough data) do not lower the level; they are listed after the
 * violations so that a person can see what is not being watched.
 *
 * @example
 * const health = modelHealth("part-17", await evaluateChecks(checks, data));
 * health.level; // "critical"
 * health.reasons[0].message; // "cusum alarm (errors rose …) at 44: 7.1 > h 5.2 spreads"
 */
export function modelHealth(model: string, results: readonly CheckResult[]): ModelHealth {
  const listed = results.filter((r) => r.outcome !== "satisfied").sort(compareResults);
  const violated = listed.filter((r) => r.outcome === "violated");
  const level: HealthLevel = violated.some((r) => r.severity === "critical")
    ? "critical"
    : violated.length > 0
      ? "warning"
      : "healthy";
  const top = violated[0];
  let latest: number | null = null;
  for (const r of results) if (r.latest !== null && (latest === null || r.latest > latest)) latest = r.latest;
  return {
    model,
    level,
    reasons: listed.map((r) => ({
      check: r.check,
      kind: r.kind,
      severity: r.severity,
      outcome: r.outcome as "violated" | "inconclusive",
      message: r.reasons[0] ?? `${r.check} is ${r.outcome}`,
      exceedance: r.exceedance,
      latest: r.latest,
    })),
    evidence: listed,
    exceedance: top?.exceedance ?? 0,
    latest: top?.latest ?? latest,
    counts: {
      satisfied: results.filter((r) => r.outcome === "satisfied").length,
      violated: violated.length,
      inconclusive: listed.length - violated.length,
    },
  };
}

/**
 * The order of exceptions: critical before warning; then by how far the most important violated check lies
 * past its threshold (its exceedance, relative to the threshold), largest first; then the most recent first
 * (the newest data behind that check); then by model name, so that the order is total and stable.
 */
export function compareHealth(a: ModelHealth, b: ModelHealth): number {
  return (
    LEVEL_RANK[a.level] - LEVEL_RANK[b.level] ||
    b.exceedance - a.exceedance ||
    newer(a.latest, b.latest) ||
    (a.model < b.model ? -1 : a.model > b.model ? 1 : 0)
  );
}

/** Counts per level and the exceptions (models not healthy), ordered by `compareHealth`. */
export function summarise(healths: readonly ModelHealth[]): HealthSummary {
  const counts: Record<HealthLevel, number> = { healthy: 0, warning: 0, critical: 0 };
  let inconclusive = 0;
  for (const h of healths) {
    counts[h.level]++;
    if (h.counts.inconclusive > 0) inconclusive++;
  }
  return {
    total: healths.length,
    counts,
    inconclusive,
    exceptions: healths.filter((h) => h.level !== "healthy").sort(compareHealth),
  };
}
