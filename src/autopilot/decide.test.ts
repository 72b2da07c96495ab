import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DecidedAction, ModelState, PastAction } from "./autopilot.types.js";
import { decide } from "./decide.js";
import { type Policy, validatePolicy } from "./policy.js";
import { testCompare } from "./test-support/compare.js";

const NOW = "2026-12-03T12:00:00.000Z";
const hoursAgo = (h: number) => new Date(Date.parse(NOW) - h * 3_600_000).toISOString();

function policy(overrides: Record<string, unknown> = {}): Policy {
  return validatePolicy({
    name: "nightly",
    rules: [
      { when: { check: { level: "critical" } }, do: ["retrain"] },
      { when: { newData: { minActuals: 6 } }, do: ["evaluate", "rollback"] },
    ],
    evaluate: { test: "dm", alpha: 0.05, power: 1, minSamples: 12 },
    promote: { margin: 0.05, approval: "auto" },
    rollback: { probationHours: 72, degradation: 0.1, approval: "auto" },
    limits: { promote: { max: 1, perHours: 24 }, retrain: { max: 1, perHours: 24 } },
    ...overrides,
  });
}

/** A champion with errors around 10 and a challenger around 5, with enough new data to evaluate. */
function state(overrides: Partial<ModelState> = {}): ModelState {
  const wobble = (i: number) => ((i * 7) % 5) - 2;
  return {
    project: "default",
    model: "part-A12",
    fleet: "carparts",
    now: NOW,
    champion: { version: 3, since: hoursAgo(500), previous: 2, promotedOnMeanError: null },
    challenger: { version: 4 },
    errors: {
      champion: Array.from({ length: 24 }, (_, i) => 10 + wobble(i)),
      challenger: Array.from({ length: 24 }, (_, i) => 5 + wobble(i + 1)),
      windowEnd: "2026-11",
    },
    checks: [],
    newActuals: { count: 6, mark: "2026-11" },
    history: [],
    ...overrides,
  };
}

const kinds = (actions: DecidedAction[]) => actions.map((a) => a.kind);

describe("decide", () => {
  it("evaluates a challenger on new data and promotes it when better by the margin", () => {
    const actions = decide(policy(), state(), testCompare);
    expect(kinds(actions)).toEqual(["evaluate", "promote"]);
    const [evaluate, promote] = actions;
    expect(evaluate?.evidence).toMatchObject({ champion: 3, challenger: 4, samples: 24, better: true });
    expect(evaluate?.evidence.pValue as number).toBeLessThan(0.05);
    expect(promote).toMatchObject({ fromVersion: 3, toVersion: 4, key: "nightly:part-A12:promote:3->4" });
    expect(promote?.skip).toBeUndefined();
  });

  it("does not promote a challenger that is better by less than the margin, or not significantly", () => {
    expect(
      kinds(decide(policy({ promote: { margin: 0.6, approval: "auto" } }), state(), testCompare)),
    ).toEqual(["evaluate"]);
    const same = state({
      errors: {
        champion: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        challenger: [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
        windowEnd: "w",
      },
    });
    const [evaluate, ...rest] = decide(policy(), same, testCompare);
    expect(evaluate?.evidence.better).toBe(false);
    expect(rest).toEqual([]);
  });

  it("needs enough paired errors and new data before it evaluates", () => {
    const few = state({ errors: { champion: [1, 2, 3], challenger: [0, 0, 0], windowEnd: "w" } });
    expect(decide(policy(), few, testCompare)).toEqual([]);
    expect(decide(policy(), state({ newActuals: { count: 5, mark: "m" } }), testCompare)).toEqual([]);
  });

  it("retrains on a critical check, not on a warning, keyed by the check's firing", () => {
    const warning = state({
      checks: [{ name: "mase", level: "warning", firedAt: hoursAgo(1) }],
      newActuals: { count: 0, mark: "" },
    });
    expect(decide(policy(), warning, testCompare)).toEqual([]);
    const critical = state({
      checks: [{ name: "mase", level: "critical", firedAt: hoursAgo(1) }],
      newActuals: { count: 0, mark: "" },
    });
    const [retrain] = decide(policy(), critical, testCompare);
    expect(retrain).toMatchObject({ kind: "retrain", segments: ["part-A12"], fleet: "carparts" });
    expect(retrain?.key).toBe(`nightly:part-A12:retrain:check:mase@${hoursAgo(1)}`);
  });

  it("fires a schedule once per slot: the same slot gives the same key", () => {
    const p = policy({ rules: [{ when: { schedule: { everyMinutes: 60 } }, do: ["retrain"] }] });
    const a = decide(p, state({ now: "2026-12-03T12:05:00.000Z" }), testCompare);
    const b = decide(p, state({ now: "2026-12-03T12:55:00.000Z" }), testCompare);
    const c = decide(p, state({ now: "2026-12-03T13:00:00.000Z" }), testCompare);
    expect(a[0]?.key).toBe(b[0]?.key);
    expect(c[0]?.key).not.toBe(a[0]?.key);
  });

  it("rolls back a newly promoted champion that degrades within probation, and not after it", () => {
    const degraded = (sinceHours: number): ModelState =>
      state({
        champion: { version: 4, since: hoursAgo(sinceHours), previous: 3, promotedOnMeanError: 5 },
        challenger: null,
        errors: { champion: Array(12).fill(6), challenger: [], windowEnd: "w" },
      });
    const [rollback] = decide(policy(), degraded(10), testCompare);
    expect(rollback).toMatchObject({ kind: "rollback", fromVersion: 4, toVersion: 3 });
    expect(decide(policy(), degraded(100), testCompare)).toEqual([]);
    // 5.4 is within 10 % of 5: no rollback.
    const fine = state({
      champion: { version: 4, since: hoursAgo(10), previous: 3, promotedOnMeanError: 5 },
      challenger: null,
      errors: { champion: Array(12).fill(5.4), challenger: [], windowEnd: "w" },
    });
    expect(decide(policy(), fine, testCompare)).toEqual([]);
  });

  it("asks a person instead where the policy or the environment requires one", () => {
    const byPolicy = decide(policy({ promote: { margin: 0.05, approval: "person" } }), state(), testCompare);
    expect(byPolicy[1]).toMatchObject({
      kind: "request-approval",
      proposed: "promote",
      fromVersion: 3,
      toVersion: 4,
    });
    const byEnvironment = decide(
      policy({ environment: "production", approval: { environments: ["production"] } }),
      state(),
      testCompare,
    );
    expect(byEnvironment[1]).toMatchObject({ kind: "request-approval", expiresAfterHours: 72 });
  });

  it("decides a key again only when it was skipped or failed", () => {
    const key = "nightly:part-A12:promote:3->4";
    const promoteAfter = (status: PastAction["status"]) =>
      decide(
        policy(),
        state({ history: [{ kind: "promote", status, key, at: hoursAgo(30) }] }),
        testCompare,
      ).some((a) => a.key === key);
    expect(promoteAfter("skipped")).toBe(true);
    expect(promoteAfter("failed")).toBe(true);
    expect(promoteAfter("succeeded")).toBe(false);
    expect(promoteAfter("awaiting-approval")).toBe(false);
    expect(promoteAfter("rejected")).toBe(false);
  });

  it("refuses a promotion past the rate limit, with the reason", () => {
    const history: PastAction[] = [{ kind: "promote", status: "succeeded", key: "other", at: hoursAgo(3) }];
    const [, promote] = decide(policy(), state({ history }), testCompare);
    expect(promote?.skip).toMatch(/at most 1 promote per model per 24 h/);
  });

  // --- properties ----------------------------------------------------------------------------------------

  const errorsArb = fc.array(fc.double({ min: -100, max: 100, noNaN: true }), {
    minLength: 0,
    maxLength: 40,
  });
  const stateArb = fc.record({
    champion: fc.option(
      fc.record({
        version: fc.integer({ min: 1, max: 5 }),
        since: fc.integer({ min: 0, max: 200 }).map(hoursAgo),
        previous: fc.option(fc.integer({ min: 1, max: 5 })),
        promotedOnMeanError: fc.option(fc.double({ min: 0, max: 50, noNaN: true })),
      }),
    ),
    challenger: fc.option(fc.record({ version: fc.integer({ min: 2, max: 9 }) })),
    champErrors: errorsArb,
    challErrors: errorsArb,
    checks: fc.array(
      fc.record({
        name: fc.constantFrom("mase", "bias", "psi"),
        level: fc.constantFrom("warning" as const, "critical" as const),
        firedAt: fc.integer({ min: 0, max: 48 }).map(hoursAgo),
      }),
      { maxLength: 3 },
    ),
    newActuals: fc.record({ count: fc.integer({ min: 0, max: 20 }), mark: fc.constantFrom("a", "b") }),
    history: fc.array(
      fc.record({
        kind: fc.constantFrom(
          "retrain" as const,
          "promote" as const,
          "rollback" as const,
          "evaluate" as const,
        ),
        status: fc.constantFrom("succeeded" as const, "skipped" as const, "failed" as const),
        key: fc.string({ maxLength: 8 }),
        at: fc.integer({ min: 0, max: 60 }).map(hoursAgo),
      }),
      { maxLength: 6 },
    ),
    minutes: fc.integer({ min: 0, max: 10_000 }),
  });
  type StateInput = typeof stateArb extends fc.Arbitrary<infer T> ? T : never;
  const toState = (s: StateInput): ModelState => ({
    project: "default",
    model: "m",
    fleet: null,
    now: new Date(Date.parse(NOW) + s.minutes * 60_000).toISOString(),
    champion: s.champion,
    challenger: s.challenger,
    errors: { champion: s.champErrors, challenger: s.challErrors, windowEnd: "w" },
    checks: s.checks,
    newActuals: s.newActuals,
    history: s.history,
  });
  const policyArb = fc.record({
    promoteMax: fc.integer({ min: 0, max: 2 }),
    retrainMax: fc.integer({ min: 0, max: 2 }),
    schedule: fc.boolean(),
  });
  type PolicyInput = typeof policyArb extends fc.Arbitrary<infer T> ? T : never;
  const toPolicy = (p: PolicyInput) =>
    policy({
      rules: [
        { when: { check: {} }, do: ["retrain"] },
        {
          when: p.schedule ? { schedule: { everyMinutes: 60 } } : { newData: { minActuals: 3 } },
          do: ["evaluate", "rollback"],
        },
      ],
      evaluate: { test: "rank", alpha: 0.2, minSamples: 4 },
      promote: { margin: 0, approval: "auto" },
      limits: { promote: { max: p.promoteMax, perHours: 24 }, retrain: { max: p.retrainMax, perHours: 24 } },
    });

  it("is deterministic: the same policy and state give the same actions and keys", () => {
    fc.assert(
      fc.property(policyArb, stateArb, (p, s) => {
        expect(decide(toPolicy(p), toState(s), testCompare)).toEqual(
          decide(toPolicy(p), toState(s), testCompare),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("is idempotent: once the decided actions are in the history, deciding again repeats none of them", () => {
    fc.assert(
      fc.property(policyArb, stateArb, (p, s) => {
        const first = toState(s);
        const actions = decide(toPolicy(p), first, testCompare);
        expect(new Set(actions.map((a) => a.key)).size).toBe(actions.length);
        const done: PastAction[] = actions
          .filter((a) => a.skip === undefined)
          .map((a) => ({ kind: a.kind, status: "succeeded", key: a.key, at: first.now }));
        const again = decide(toPolicy(p), { ...first, history: [...first.history, ...done] }, testCompare);
        const doneKeys = new Set(done.map((d) => d.key));
        expect(again.filter((a) => doneKeys.has(a.key))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("never lets a model exceed its rate limit: allowed + already done within the window ≤ max", () => {
    fc.assert(
      fc.property(policyArb, stateArb, (p, s) => {
        const st = toState(s);
        const actions = decide(toPolicy(p), st, testCompare);
        const since = Date.parse(st.now) - 24 * 3_600_000;
        for (const [kind, max] of [
          ["promote", p.promoteMax],
          ["retrain", p.retrainMax],
        ] as const) {
          const used = st.history.filter(
            (h) => h.kind === kind && h.status === "succeeded" && Date.parse(h.at) > since,
          ).length;
          const allowed = actions.filter((a) => a.kind === kind && a.skip === undefined).length;
          if (allowed > 0) expect(used + allowed).toBeLessThanOrEqual(max);
          for (const a of actions.filter((x) => x.kind === kind && x.skip !== undefined))
            expect(a.skip).toMatch(/rate limit/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("only ever moves the champion from the version it saw to another version", () => {
    fc.assert(
      fc.property(policyArb, stateArb, (p, s) => {
        const st = toState(s);
        for (const a of decide(toPolicy(p), st, testCompare)) {
          if (a.kind === "promote" || a.kind === "rollback" || a.kind === "request-approval") {
            expect(a.fromVersion).toBe(st.champion?.version);
            expect(a.toVersion).not.toBe(a.fromVersion);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
