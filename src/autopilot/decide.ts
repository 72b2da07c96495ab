import type { DecidedAction, JsonObject, ModelState, PastAction } from "./autopilot.types.js";
import { needsPerson, type Policy, type PolicyRule, type Trigger } from "./policy.js";
import type { LimitedAction, RuleAction } from "./policy.schema.js";
import type { ComparePort } from "./ports.js";

/**
 * The autopilot's decisions as pure functions: a policy and what is known about one model in, the actions to
 * take out. No database, no clock (the time is `state.now`), no randomness: the same inputs always give the
 * same actions with the same idempotency keys, which is what makes re-running a decision safe.
 *
 * @example
 * const actions = decide(policy, state, compare);
 * // [{ kind: "promote", key: "nightly:part-A12:promote:3->4", fromVersion: 3, toVersion: 4, … }]
 */
export function decide(policy: Policy, state: ModelState, compare: ComparePort): DecidedAction[] {
  // Skipped (refused) and failed actions are tried again when the same evidence comes back; the rest never.
  const done = new Set(
    state.history.filter((h) => h.status !== "skipped" && h.status !== "failed").map((h) => h.key),
  );
  const decided: DecidedAction[] = [];
  const taken = new Set<RuleAction>();
  for (const rule of policy.rules) {
    const fired = fires(rule.when, state);
    if (!fired) continue;
    for (const action of rule.do) {
      // The first rule that fires an action gives its trigger; later rules do not repeat it.
      if (taken.has(action)) continue;
      taken.add(action);
      decided.push(...actionsFor(action, rule, fired, policy, state, compare));
    }
  }
  return decided
    .filter((action) => !done.has(action.key))
    .map((action) => withRateLimit(action, policy, state.history, state.now));
}

/** Why a trigger fires for this model now (its evidence key and description), or null. */
export function fires(
  trigger: Trigger,
  state: ModelState,
): { key: string; because: string; evidence: JsonObject } | null {
  switch (trigger.kind) {
    case "check": {
      const matching = state.checks
        .filter((c) => trigger.names === undefined || trigger.names.includes(c.name))
        .filter((c) => trigger.level === undefined || c.level === "critical" || trigger.level === "warning")
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (matching.length === 0) return null;
      return {
        key: `check:${matching.map((c) => `${c.name}@${c.firedAt}`).join(",")}`,
        because: `check ${matching.map((c) => `${c.name} (${c.level})`).join(", ")} fired`,
        evidence: { checks: matching.map((c) => ({ ...c })) },
      };
    }
    case "schedule": {
      const periodMs = trigger.everyMinutes * 60_000;
      const slot = Math.floor(Date.parse(state.now) / periodMs);
      const slotStart = new Date(slot * periodMs).toISOString();
      return {
        key: `schedule:${trigger.everyMinutes}m:${slotStart}`,
        because: `the schedule (every ${trigger.everyMinutes} minutes) came round at ${slotStart}`,
        evidence: { schedule: { everyMinutes: trigger.everyMinutes, slotStart } },
      };
    }
    case "new-data": {
      if (state.newActuals.count < trigger.minActuals) return null;
      return {
        key: `data:${state.newActuals.mark}`,
        because: `${state.newActuals.count} new actuals arrived (at least ${trigger.minActuals})`,
        evidence: { newActuals: { ...state.newActuals, minActuals: trigger.minActuals } },
      };
    }
  }
}

function actionsFor(
  action: RuleAction,
  _rule: PolicyRule,
  fired: { key: string; because: string; evidence: JsonObject },
  policy: Policy,
  state: ModelState,
  compare: ComparePort,
): DecidedAction[] {
  const base = { project: state.project, model: state.model, policy: policy.name };
  const prefix = `${policy.name}:${state.model}`;
  switch (action) {
    case "retrain":
      return [
        {
          ...base,
          kind: "retrain",
          key: `${prefix}:retrain:${fired.key}`,
          reason: `${fired.because}: retrain ${state.model}`,
          evidence: { trigger: fired.evidence },
          fleet: state.fleet,
          segments: [state.model],
        },
      ];
    case "evaluate":
      return evaluateActions(base, prefix, fired, policy, state, compare);
    case "rollback":
      return rollbackActions(base, prefix, fired, policy, state);
  }
}

function evaluateActions(
  base: { project: string; model: string; policy: string },
  prefix: string,
  fired: { because: string; evidence: JsonObject },
  policy: Policy,
  state: ModelState,
  compare: ComparePort,
): DecidedAction[] {
  const settings = policy.evaluate;
  const { champion, challenger, errors } = state;
  if (!settings || !champion || !challenger || !errors || challenger.version === champion.version) return [];
  const n = Math.min(errors.champion.length, errors.challenger.length);
  if (n < settings.minSamples) return [];
  const championErrors = errors.champion.slice(-n);
  const challengerErrors = errors.challenger.slice(-n);
  const result = compare(championErrors, challengerErrors, {
    test: settings.test,
    alpha: settings.alpha,
    ...(settings.h !== undefined && { h: settings.h }),
    ...(settings.power !== undefined && { power: settings.power }),
    ...(settings.minEffect !== undefined && { minEffect: settings.minEffect }),
  });
  const championMae = meanAbs(championErrors);
  const challengerMae = meanAbs(challengerErrors);
  const improvement = championMae > 0 ? 1 - challengerMae / championMae : 0;
  const evidence: JsonObject = {
    trigger: fired.evidence,
    champion: champion.version,
    challenger: challenger.version,
    samples: n,
    windowEnd: errors.windowEnd,
    test: settings.test,
    alpha: settings.alpha,
    better: result.better,
    statistic: result.statistic,
    pValue: result.pValue,
    effect: result.effect,
    championMeanError: championMae,
    challengerMeanError: challengerMae,
    improvement,
  };
  const verdict = `challenger ${challenger.version} against champion ${champion.version} on ${n} errors: ${settings.test} p=${fmt(result.pValue)}, mean error ${fmt(challengerMae)} vs ${fmt(championMae)} (${fmt(improvement * 100)} % better)`;
  const actions: DecidedAction[] = [
    {
      ...base,
      kind: "evaluate",
      key: `${prefix}:evaluate:${champion.version}->${challenger.version}:${errors.windowEnd}`,
      reason: `${fired.because}: ${verdict}`,
      evidence,
    },
  ];
  const promote = policy.promote;
  if (promote && result.better && improvement >= promote.margin) {
    const move = { fromVersion: champion.version, toVersion: challenger.version };
    const reason = `${verdict}; better by at least the margin ${fmt(promote.margin * 100)} %`;
    actions.push(
      aliasAction(
        base,
        `${prefix}:promote:${move.fromVersion}->${move.toVersion}`,
        "promote",
        move,
        reason,
        evidence,
        policy,
      ),
    );
  }
  return actions;
}

function rollbackActions(
  base: { project: string; model: string; policy: string },
  prefix: string,
  fired: { because: string; evidence: JsonObject },
  policy: Policy,
  state: ModelState,
): DecidedAction[] {
  const settings = policy.rollback;
  const { champion, errors } = state;
  if (
    !settings ||
    !champion ||
    champion.previous === null ||
    champion.previous === champion.version ||
    champion.promotedOnMeanError === null
  )
    return [];
  const ageHours = (Date.parse(state.now) - Date.parse(champion.since)) / 3_600_000;
  if (!(ageHours >= 0 && ageHours <= settings.probationHours)) return [];
  const minSamples = policy.evaluate?.minSamples ?? 2;
  if (!errors || errors.champion.length < minSamples) return [];
  const now = meanAbs(errors.champion);
  const limit = champion.promotedOnMeanError * (1 + settings.degradation);
  if (!(now > limit)) return [];
  const move = { fromVersion: champion.version, toVersion: champion.previous };
  const reason = `${fired.because}: champion ${champion.version}, promoted ${fmt(ageHours)} h ago (probation ${settings.probationHours} h), has mean error ${fmt(now)} over ${errors.champion.length} periods, above ${fmt(limit)} (${fmt(champion.promotedOnMeanError)} when promoted + ${fmt(settings.degradation * 100)} %): back to ${champion.previous}`;
  const evidence: JsonObject = {
    trigger: fired.evidence,
    champion: champion.version,
    previous: champion.previous,
    championSince: champion.since,
    ageHours,
    meanError: now,
    promotedOnMeanError: champion.promotedOnMeanError,
    degradation: settings.degradation,
    samples: errors.champion.length,
    windowEnd: errors.windowEnd,
  };
  return [
    aliasAction(
      base,
      `${prefix}:rollback:${move.fromVersion}->${move.toVersion}@${champion.since}`,
      "rollback",
      move,
      reason,
      evidence,
      policy,
    ),
  ];
}

function aliasAction(
  base: { project: string; model: string; policy: string },
  key: string,
  kind: "promote" | "rollback",
  move: { fromVersion: number; toVersion: number },
  reason: string,
  evidence: JsonObject,
  policy: Policy,
): DecidedAction {
  if (needsPerson(policy, kind)) {
    return {
      ...base,
      kind: "request-approval",
      proposed: kind,
      expiresAfterHours: policy.approval.expiresAfterHours,
      key,
      reason: `a person decides: ${reason}`,
      evidence,
      ...move,
    };
  }
  return { ...base, kind, key, reason, evidence, ...move };
}

/** The kind a rate limit counts an action under, if any. */
export function limitedKind(action: DecidedAction): LimitedAction | null {
  switch (action.kind) {
    case "retrain":
    case "promote":
    case "rollback":
      return action.kind;
    case "evaluate":
    case "request-approval":
      return null;
  }
}

/** Refuses the action (skip with a reason) when the model has used up its limit for this kind. */
export function withRateLimit(
  action: DecidedAction,
  policy: Policy,
  history: readonly PastAction[],
  now: string,
): DecidedAction {
  const kind = limitedKind(action);
  if (kind === null) return action;
  const refusal = rateLimitRefusal(policy, kind, history, now);
  return refusal === null ? action : { ...action, skip: refusal };
}

/** Why one more `kind` action would exceed the policy's limit, or null when it is allowed. */
export function rateLimitRefusal(
  policy: Policy,
  kind: LimitedAction,
  history: readonly PastAction[],
  now: string,
): string | null {
  const limit = policy.limits[kind];
  if (!limit) return null;
  const since = Date.parse(now) - limit.perHours * 3_600_000;
  const used = history.filter(
    (h) => h.kind === kind && h.status === "succeeded" && Date.parse(h.at) > since,
  ).length;
  if (used < limit.max) return null;
  return `rate limit: at most ${limit.max} ${kind} per model per ${limit.perHours} h (${used} in the last ${limit.perHours} h)`;
}

function meanAbs(values: readonly number[]): number {
  if (values.length === 0) return 0;
  let sum = 0;
  for (const v of values) sum += Math.abs(v);
  return sum / values.length;
}

function fmt(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 1000) / 1000) : String(value);
}
