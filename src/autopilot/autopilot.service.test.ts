import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryBlobStore } from "../artifacts/index.js";
import { isSkalaError, manualClock } from "../core/index.js";
import { JobQueue } from "../jobs/index.js";
import { createRegistry, type Registry } from "../registry/index.js";
import type { Store } from "../store/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { AutopilotService } from "./autopilot.service.js";
import { validatePolicy } from "./policy.js";
import { testCompare } from "./test-support/compare.js";
import { MemoryEvidence } from "./test-support/evidence.js";
import { queueRetrain, RETRAIN_JOB } from "./test-support/retrain.js";

const P = "default";
const HOUR = 3_600_000;
const wobble = (i: number) => ((i * 7) % 5) - 2;
const around = (level: number, n = 24, shift = 0) =>
  Array.from({ length: n }, (_, i) => level + wobble(i + shift));

function basePolicy(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "nightly",
    fleet: "carparts",
    rules: [
      { when: { check: { level: "critical" } }, do: ["retrain"] },
      { when: { newData: { minActuals: 6 } }, do: ["evaluate", "rollback"] },
    ],
    evaluate: { test: "dm", alpha: 0.05, power: 1, minSamples: 12 },
    promote: { margin: 0.05, approval: "auto" },
    rollback: { probationHours: 72, degradation: 0.1, approval: "auto" },
    limits: { promote: { max: 1, perHours: 24 }, retrain: { max: 1, perHours: 24 } },
    ...overrides,
  };
}

describe.each(testDialects())("autopilot on %s", (dialect) => {
  let store: Store;
  let registry: Registry;
  let jobs: JobQueue;
  let dispose: () => Promise<void>;
  const clock = manualClock(new Date("2026-12-01T00:00:00.000Z"));
  const evidence = new MemoryEvidence();
  let autopilot: AutopilotService;
  let model = 0;

  beforeAll(async () => {
    const fresh = await freshStore(dialect);
    store = fresh.store;
    dispose = fresh.dispose;
    registry = createRegistry({
      store,
      blobs: createMemoryBlobStore(),
      clock,
      limits: { bulkMaxVersions: 100, pageSizeMax: 1_000, artifactMaxBytes: 1 << 20 },
    });
    await registry.projects.ensure(P);
    jobs = new JobQueue({ store, clock });
    autopilot = new AutopilotService({
      store,
      registry,
      retrain: queueRetrain(jobs),
      compare: testCompare,
      evidence,
      clock,
    });
  });
  afterAll(() => dispose());

  /** A new model of the carparts fleet with `versions` versions, the champion on version 1. */
  async function newModel(versions = 2, fleet = "carparts"): Promise<string> {
    const name = `part-${dialect}-${++model}`;
    await registry.versions.bulkRegister(P, {
      versions: Array.from({ length: versions }, (_, i) => ({
        model: name,
        fleet,
        runtime: "skala.forecast",
        artifact: { json: { model: name, v: i + 1 } },
        ...(i === 0 && { aliases: ["champion"] }),
      })),
    });
    return name;
  }

  async function champion(name: string): Promise<number> {
    return (await registry.versions.alias(P, name, "champion", store.db)).version;
  }

  async function autopilotMoves(name: string): Promise<number> {
    const history = await registry.versions.aliasHistory(P, name, "champion", 1_000, store.db);
    return history.filter((h) => h.reason.startsWith("autopilot")).length;
  }

  /** Runs a policy over exactly one model (a fleet of its own), so tests do not see each other's models. */
  async function runFor(_name: string, fleet: string, policy: Record<string, unknown>) {
    return autopilot.runPolicy(validatePolicy({ ...policy, fleet }));
  }

  it("stores a policy, refuses an invalid one with every problem, and reads it back", async () => {
    const stored = await autopilot.putPolicy(P, "nightly", basePolicy());
    expect(stored.policy.rules).toHaveLength(2);
    expect((await autopilot.getPolicy(P, "nightly")).policy).toEqual(stored.policy);
    const error = await autopilot.putPolicy(P, "bad", { rules: [], promote: { margin: -1 } }).catch((e) => e);
    expect(isSkalaError(error) && error.code).toBe("POLICY_INVALID");
    expect(error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      "/promote/approval",
      "/promote/margin",
      "/rules",
    ]);
    const missing = await autopilot.getPolicy(P, "bad").catch((e) => e);
    expect(missing.code).toBe("POLICY_NOT_FOUND");
  });

  it("runs every stored policy of the project", async () => {
    await autopilot.putPolicy(P, "zz-second", basePolicy({ fleet: `f-${dialect}-none` }));
    const reports = await autopilot.runAll(P);
    expect(reports.map((r) => r.policy)).toEqual(["nightly", "zz-second"]);
    expect(reports.every((r) => r.errors.length === 0)).toBe(true);
  });

  it("evaluates, promotes once, and records both with their evidence in the ledger", async () => {
    const fleet = `f-${dialect}-promote`;
    const name = await newModel(2, fleet);
    evidence.setErrors(P, name, 1, around(10), "2026-11").setErrors(P, name, 2, around(5, 24, 1), "2026-11");
    evidence.addActuals(P, name, [
      "2026-11-01",
      "2026-11-02",
      "2026-11-03",
      "2026-11-04",
      "2026-11-05",
      "2026-11-06",
    ]);
    const report = await runFor(name, fleet, basePolicy());
    expect(report.modelsCovered).toBe(1);
    expect(report.actions.map((a) => [a.action.kind, a.outcome])).toEqual([
      ["evaluate", "done"],
      ["promote", "done"],
    ]);
    expect(await champion(name)).toBe(2);
    const recorded = await autopilot.listActions(P, { model: name });
    const promote = recorded.find((a) => a.kind === "promote");
    const evaluate = recorded.find((a) => a.kind === "evaluate");
    expect(promote).toMatchObject({
      kind: "promote",
      status: "succeeded",
      idempotencyKey: `nightly:${name}:promote:1->2`,
    });
    expect(promote?.evidence).toMatchObject({
      fromVersion: 1,
      toVersion: 2,
      better: true,
      challengerMeanError: expect.any(Number),
    });
    expect(evaluate?.evidence.pValue as number).toBeLessThan(0.05);

    // The same decisions again (a replay after a crash): nothing moves twice, nothing is recorded twice.
    const replayed = await autopilot.execute(
      report.actions.map((a) => ({
        kind: a.action.kind as "promote",
        project: P,
        model: name,
        policy: "nightly",
        key: a.action.idempotencyKey,
        reason: a.action.reason,
        evidence: a.action.evidence,
        fromVersion: 1,
        toVersion: 2,
      })),
      null,
    );
    expect(replayed.map((r) => r.outcome)).toEqual(["duplicate", "duplicate"]);
    expect(await autopilotMoves(name)).toBe(1);
    expect(await autopilot.listActions(P, { model: name })).toHaveLength(2);
  });

  it("executes one action at most once when the same decision runs concurrently", async () => {
    const name = await newModel(2, `f-${dialect}-race`);
    const action = {
      kind: "promote" as const,
      project: P,
      model: name,
      policy: "nightly",
      key: `race:${name}`,
      reason: "test",
      evidence: {},
      fromVersion: 1,
      toVersion: 2,
    };
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => autopilot.execute([action], null)));
    expect(
      outcomes
        .flat()
        .map((o) => o.outcome)
        .sort(),
    ).toEqual(["done", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate"]);
    expect(await autopilotMoves(name)).toBe(1);
  });

  it("refuses a second promotion within 24 h as skipped with the reason, and does it once the window has passed", async () => {
    const fleet = `f-${dialect}-limit`;
    const name = await newModel(3, fleet);
    const actuals = (tag: string) => Array.from({ length: 6 }, (_, i) => `${tag}-${i}`);
    // Version 2 beats version 1 and is promoted; a day's limit of one promotion.
    await autopilot.execute(
      [
        {
          kind: "promote",
          project: P,
          model: name,
          policy: "nightly",
          key: `first:${name}`,
          reason: "first",
          evidence: {},
          fromVersion: 1,
          toVersion: 2,
        },
      ],
      validatePolicy(basePolicy()),
    );
    evidence
      .setErrors(P, name, 2, around(10), "w1")
      .setErrors(P, name, 3, around(5, 24, 1), "w1")
      .addActuals(P, name, actuals("2026-12-01"));
    clock.advance(HOUR);
    const refused = await runFor(name, fleet, basePolicy());
    const promote = refused.actions.find((a) => a.action.kind === "promote");
    expect(promote?.outcome).toBe("skipped");
    expect(promote?.action.reason).toMatch(/rate limit: at most 1 promote per model per 24 h/);
    expect(await champion(name)).toBe(2);
    clock.advance(24 * HOUR);
    const later = await runFor(name, fleet, basePolicy());
    expect(later.actions.find((a) => a.action.kind === "promote")?.outcome).toBe("done");
    expect(await champion(name)).toBe(3);
    // The skipped row became the succeeded one: one row per key.
    const rows = (await autopilot.listActions(P, { model: name, kind: "promote" })).map((r) => r.status);
    expect(rows).toEqual(["succeeded", "succeeded"]);
  });

  it("retrains on a critical check as jobs on the queue, once per firing", async () => {
    const fleet = `f-${dialect}-retrain`;
    const name = await newModel(1, fleet);
    evidence.setChecks(P, name, [
      { name: "mase-window", level: "critical", firedAt: "2026-12-01T00:00:00.000Z" },
    ]);
    const first = await runFor(name, fleet, basePolicy());
    expect(first.actions.map((a) => [a.action.kind, a.outcome])).toEqual([["retrain", "done"]]);
    const jobIds = first.actions[0]?.action.evidence.jobIds as string[];
    expect(jobIds).toHaveLength(1);
    const job = await jobs.get(jobIds[0] as string);
    expect(job).toMatchObject({ kind: RETRAIN_JOB, status: "queued", payload: { segment: name, fleet } });
    const again = await runFor(name, fleet, basePolicy());
    expect(again.actions).toEqual([]);
    expect(
      (await jobs.list({ kind: RETRAIN_JOB })).filter(
        (j) => (j.payload as { segment: string }).segment === name,
      ),
    ).toHaveLength(1);
  });

  it("rolls a newly promoted champion back to the previous one when it degrades within probation", async () => {
    const fleet = `f-${dialect}-rollback`;
    const name = await newModel(2, fleet);
    evidence
      .setErrors(P, name, 1, around(10), "w1")
      .setErrors(P, name, 2, around(5, 24, 1), "w1")
      .addActuals(
        P,
        name,
        Array.from({ length: 6 }, (_, i) => `2026-10-${i}`),
      );
    clock.advance(48 * HOUR);
    await runFor(name, fleet, basePolicy());
    expect(await champion(name)).toBe(2);
    // Version 2 now errs 50 % more than it was promoted on.
    evidence.setErrors(P, name, 2, around(7.5), "w2").addActuals(
      P,
      name,
      Array.from({ length: 6 }, (_, i) => `2026-12-${i}`),
    );
    clock.advance(10 * HOUR);
    const report = await runFor(name, fleet, basePolicy());
    const rollback = report.actions.find((a) => a.action.kind === "rollback");
    expect(rollback?.outcome).toBe("done");
    expect(rollback?.action.evidence).toMatchObject({ fromVersion: 2, toVersion: 1, previous: 1 });
    expect(await champion(name)).toBe(1);
    expect(await autopilotMoves(name)).toBe(2);
  });

  it("skips a promotion whose champion moved since the decision, recording why", async () => {
    const name = await newModel(3, `f-${dialect}-moved`);
    await registry.versions.setAlias(P, name, "champion", { version: 3, reason: "a person" });
    const [outcome] = await autopilot.execute(
      [
        {
          kind: "promote",
          project: P,
          model: name,
          policy: "nightly",
          key: `moved:${name}`,
          reason: "x",
          evidence: {},
          fromVersion: 1,
          toVersion: 2,
        },
      ],
      null,
    );
    expect(outcome?.outcome).toBe("skipped");
    expect(outcome?.action.reason).toMatch(/champion is version 3 now, not 1/);
    expect(await champion(name)).toBe(3);
  });

  it("records a retrain whose work threw as failed, with nothing of it queued, and tries it again later", async () => {
    const name = await newModel(1, `f-${dialect}-failing`);
    let broken = true;
    const failing = new AutopilotService({
      store,
      registry,
      retrain: {
        async retrain(request, db) {
          const queued = await queueRetrain(jobs).retrain(request, db);
          if (broken) throw new Error("the fleet's dataset is gone");
          return queued;
        },
      },
      compare: testCompare,
      evidence,
      clock,
    });
    const action = {
      kind: "retrain" as const,
      project: P,
      model: name,
      policy: "nightly",
      key: `fail:${name}`,
      reason: "check fired",
      evidence: {},
      fleet: null,
      segments: [name],
    };
    const [failed] = await failing.execute([action], null);
    expect(failed?.outcome).toBe("failed");
    expect(failed?.action).toMatchObject({
      status: "failed",
      evidence: { error: "the fleet's dataset is gone" },
    });
    const queued = async () =>
      (await jobs.list({ kind: RETRAIN_JOB })).filter(
        (j) => (j.payload as { segment: string }).segment === name,
      );
    // The jobs enqueued in the failed transaction rolled back with it.
    expect(await queued()).toHaveLength(0);
    broken = false;
    const [retried] = await failing.execute([action], null);
    expect(retried?.outcome).toBe("done");
    expect(await queued()).toHaveLength(1);
    expect(await autopilot.listActions(P, { model: name })).toHaveLength(1);
  });

  describe("approvals", () => {
    const personPolicy = () =>
      basePolicy({
        promote: { margin: 0.05, approval: "person" },
        approval: { environments: [], expiresAfterHours: 24 },
      });

    async function requested(tag: string): Promise<{ name: string; approvalId: string; fleet: string }> {
      const fleet = `f-${dialect}-${tag}`;
      const name = await newModel(2, fleet);
      evidence
        .setErrors(P, name, 1, around(10), "w")
        .setErrors(P, name, 2, around(5, 24, 1), "w")
        .addActuals(
          P,
          name,
          Array.from({ length: 6 }, (_, i) => `a-${tag}-${i}`),
        );
      const report = await runFor(name, fleet, personPolicy());
      const request = report.actions.find((a) => a.action.kind === "request-approval");
      expect(request?.outcome).toBe("requested");
      expect(await champion(name)).toBe(1);
      return { name, fleet, approvalId: request?.action.approvalId as string };
    }

    it("opens one request per decision, and approving carries it out once", async () => {
      const { name, fleet, approvalId } = await requested("approve");
      // Deciding again on the same evidence asks nobody twice.
      expect(
        (await runFor(name, fleet, personPolicy())).actions.filter(
          (a) => a.action.kind === "request-approval",
        ),
      ).toEqual([]);
      const pending = await autopilot.listApprovals(P, { status: "pending", model: name });
      expect(pending).toHaveLength(1);
      expect(pending[0]).toMatchObject({
        action: "promote",
        fromVersion: 1,
        toVersion: 2,
        status: "pending",
      });
      const { approval, action } = await autopilot.approve(P, approvalId, { by: "ana", note: "looks right" });
      expect(approval).toMatchObject({ status: "approved", decidedBy: "ana", note: "looks right" });
      expect(action).toMatchObject({ kind: "promote", status: "succeeded", approvalId });
      expect(await champion(name)).toBe(2);
      const again = await autopilot.approve(P, approvalId, { by: "bo" }).catch((e) => e);
      expect(again.code).toBe("APPROVAL_DECIDED");
      expect(await autopilotMoves(name)).toBe(1);
      const request = (await autopilot.listActions(P, { model: name, kind: "request-approval" }))[0];
      expect(request?.status).toBe("succeeded");
    });

    it("lets exactly one of several concurrent approvals carry the action out", async () => {
      const { name, approvalId } = await requested("concurrent");
      const results = await Promise.all(
        ["ana", "bo", "cy", "di"].map((by) =>
          autopilot.approve(P, approvalId, { by }).then(
            () => "approved",
            (e) => e.code,
          ),
        ),
      );
      expect(results.sort()).toEqual([
        "APPROVAL_DECIDED",
        "APPROVAL_DECIDED",
        "APPROVAL_DECIDED",
        "approved",
      ]);
      expect(await champion(name)).toBe(2);
      expect(await autopilotMoves(name)).toBe(1);
    });

    it("records a rejection and moves nothing", async () => {
      const { name, approvalId } = await requested("reject");
      const rejected = await autopilot.reject(P, approvalId, { by: "ana", note: "wait for the audit" });
      expect(rejected).toMatchObject({ status: "rejected", decidedBy: "ana", note: "wait for the audit" });
      expect(await champion(name)).toBe(1);
      const request = (await autopilot.listActions(P, { model: name, kind: "request-approval" }))[0];
      expect(request?.status).toBe("rejected");
      expect(request?.reason).toMatch(/rejected by ana: wait for the audit/);
      expect((await autopilot.approve(P, approvalId, { by: "bo" }).catch((e) => e)).code).toBe(
        "APPROVAL_DECIDED",
      );
    });

    it("expires a request nobody decided", async () => {
      const { name, approvalId } = await requested("expire");
      clock.advance(25 * HOUR);
      const approval = await autopilot.getApproval(P, approvalId);
      expect(approval.status).toBe("expired");
      expect((await autopilot.approve(P, approvalId, { by: "ana" }).catch((e) => e)).code).toBe(
        "APPROVAL_DECIDED",
      );
      expect(await champion(name)).toBe(1);
      expect((await autopilot.getApproval(P, "apr_nope").catch((e) => e)).code).toBe("APPROVAL_NOT_FOUND");
    });
  });
});
