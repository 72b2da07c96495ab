import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { manualClock, type SkalaError } from "../core/index.js";
import { JobQueue } from "../jobs/index.js";
import type { Store } from "../store/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { AlertService } from "./alert.service.js";
import type { RaiseAlertInput } from "./alerts.types.js";
import { WebhookService } from "./webhook.service.js";
import type { WebhookTransport } from "./webhook-transport.js";

const PROJECT = "acme";

/** A transport no test here reaches: deliveries are queued, never run, in these tests. */
const unusedTransport: WebhookTransport = {
  send: () => Promise.reject(new Error("no delivery runs in these tests")),
};

const drift = (overrides: Partial<RaiseAlertInput> = {}): RaiseAlertInput => ({
  source: "monitoring",
  subject: "model:part-A12",
  severity: "warning",
  title: "Input drift on x1",
  reason: "PSI 0.31 above the calibrated 0.18",
  evidence: { psi: 0.31, threshold: 0.18 },
  dedupKey: "drift:part-A12:x1",
  ...overrides,
});

async function expectCode(promise: Promise<unknown>, code: string): Promise<SkalaError> {
  const error = (await promise.then(
    () => {
      throw new Error(`expected ${code}, but it succeeded`);
    },
    (e: unknown) => e,
  )) as SkalaError;
  expect(error.code, error.message).toBe(code);
  return error;
}

describe.each(testDialects())("AlertService on %s", (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;
  let clock: ReturnType<typeof manualClock>;
  let alerts: AlertService;
  let webhooks: WebhookService;
  let jobs: JobQueue;

  beforeEach(async () => {
    ({ store, dispose } = await freshStore(dialect));
    await store.db
      .insertInto("projects")
      .values([
        { id: "prj_acme", name: PROJECT, description: "", created_at: "2026-01-01T00:00:00.000Z" },
        { id: "prj_other", name: "other", description: "", created_at: "2026-01-01T00:00:00.000Z" },
      ])
      .execute();
    clock = manualClock();
    jobs = new JobQueue({ store, clock });
    webhooks = new WebhookService({
      store,
      jobs,
      clock,
      transport: unusedTransport,
      allowPrivateAddresses: true,
    });
    alerts = new AlertService({ store, webhooks, clock });
  });
  afterEach(() => dispose());

  it("raises an alert once per open condition: the same key moves last seen and count", async () => {
    const first = await alerts.raise(PROJECT, drift());
    expect(first.created).toBe(true);
    expect(first.alert).toMatchObject({
      project: PROJECT,
      status: "open",
      count: 1,
      severity: "warning",
      evidence: { psi: 0.31, threshold: 0.18 },
      firstSeenAt: "2026-01-01T00:00:00.000Z",
      lastSeenAt: "2026-01-01T00:00:00.000Z",
      acknowledged: null,
      resolved: null,
    });
    clock.advance(60_000);
    const again = await alerts.raise(PROJECT, drift({ reason: "PSI 0.35", evidence: { psi: 0.35 } }));
    expect(again.created).toBe(false);
    expect(again.alert.id).toBe(first.alert.id);
    expect(again.alert).toMatchObject({
      count: 2,
      reason: "PSI 0.35",
      evidence: { psi: 0.35 },
      firstSeenAt: "2026-01-01T00:00:00.000Z",
      lastSeenAt: "2026-01-01T00:01:00.000Z",
    });
    // Another key, or the same key in another project, is another alert.
    expect((await alerts.raise(PROJECT, drift({ dedupKey: "drift:part-A12:x2" }))).created).toBe(true);
    expect((await alerts.raise("other", drift())).created).toBe(true);
    expect((await alerts.list(PROJECT)).items).toHaveLength(2);
  });

  it("keeps one alert when the same condition is raised many times at once", async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => alerts.raise(PROJECT, drift())));
    expect(new Set(results.map((r) => r.alert.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const [alert] = (await alerts.list(PROJECT)).items;
    expect(alert?.count).toBe(12);
  });

  it("records who acknowledged and resolved, when, and why; a resolved key opens a new alert", async () => {
    const { alert } = await alerts.raise(PROJECT, drift());
    clock.advance(1_000);
    const acked = await alerts.acknowledge(PROJECT, alert.id, { by: "ana", note: "retraining" });
    expect(acked.status).toBe("acknowledged");
    expect(acked.acknowledged).toEqual({ by: "ana", at: "2026-01-01T00:00:01.000Z", note: "retraining" });
    // Acknowledging twice changes nothing.
    expect(await alerts.acknowledge(PROJECT, alert.id, { by: "bo" })).toEqual(acked);
    // Raised again while acknowledged: still the same alert, still acknowledged.
    const counted = await alerts.raise(PROJECT, drift());
    expect(counted).toMatchObject({
      created: false,
      alert: { id: alert.id, status: "acknowledged", count: 2 },
    });
    clock.advance(1_000);
    const resolved = await alerts.resolve(PROJECT, alert.id, { by: "ana" });
    expect(resolved.status).toBe("resolved");
    expect(resolved.resolved).toEqual({ by: "ana", at: "2026-01-01T00:00:02.000Z", note: null });
    await expectCode(alerts.acknowledge(PROJECT, alert.id, { by: "bo" }), "ALERT_RESOLVED");
    await expectCode(alerts.resolve(PROJECT, alert.id, { by: "bo" }), "ALERT_RESOLVED");
    const reopened = await alerts.raise(PROJECT, drift());
    expect(reopened.created).toBe(true);
    expect(reopened.alert.id).not.toBe(alert.id);
    expect(await alerts.resolveByKey(PROJECT, "drift:part-A12:x1", { by: "monitoring" })).toMatchObject({
      id: reopened.alert.id,
      status: "resolved",
    });
    expect(await alerts.resolveByKey(PROJECT, "drift:part-A12:x1", { by: "monitoring" })).toBeUndefined();
  });

  it("escalates: a higher severity raised again reopens an acknowledged alert; a lower one keeps the higher", async () => {
    const { alert } = await alerts.raise(PROJECT, drift({ severity: "warning" }));
    await alerts.acknowledge(PROJECT, alert.id, { by: "ana" });
    const escalated = await alerts.raise(PROJECT, drift({ severity: "critical" }));
    expect(escalated.alert).toMatchObject({ id: alert.id, severity: "critical", status: "open" });
    const lower = await alerts.raise(PROJECT, drift({ severity: "info" }));
    expect(lower.alert).toMatchObject({ severity: "critical", count: 3 });
  });

  it("lists the inbox most severe first, filters, and pages with cursors that belong to their query", async () => {
    const severities = ["info", "critical", "warning", "critical", "info", "warning", "critical"] as const;
    const ids: string[] = [];
    for (const [i, severity] of severities.entries()) {
      clock.advance(1_000);
      const { alert } = await alerts.raise(
        PROJECT,
        drift({
          severity,
          dedupKey: `k${i}`,
          source: i % 2 === 0 ? "monitoring" : "autopilot",
          subject: `model:m${i % 3}`,
        }),
      );
      ids.push(alert.id);
    }
    await alerts.resolve(PROJECT, ids[6] as string, { by: "ana" });
    const inbox = await alerts.list(PROJECT);
    expect(inbox.items.map((a) => a.severity)).toEqual([
      "critical",
      "critical",
      "warning",
      "warning",
      "info",
      "info",
    ]);
    // Within a severity, newest first.
    expect(inbox.items.slice(0, 2).map((a) => a.id)).toEqual([ids[3], ids[1]]);
    // Pages of 2 walk the same order without gaps or repeats.
    const walked: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await alerts.list(PROJECT, { limit: 2, ...(cursor && { cursor }) });
      expect(page.items.length).toBeLessThanOrEqual(2);
      walked.push(...page.items.map((a) => a.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(walked).toEqual(inbox.items.map((a) => a.id));

    expect((await alerts.list(PROJECT, { status: ["resolved"] })).items.map((a) => a.id)).toEqual([ids[6]]);
    expect((await alerts.list(PROJECT, { severity: ["warning"] })).items.map((a) => a.id)).toEqual([
      ids[5],
      ids[2],
    ]);
    expect((await alerts.list(PROJECT, { source: "autopilot" })).items).toHaveLength(3);
    expect(
      (await alerts.list(PROJECT, { subject: "model:m0", status: ["open", "resolved"] })).items.map(
        (a) => a.id,
      ),
    ).toEqual([ids[6], ids[3], ids[0]]);

    const first = await alerts.list(PROJECT, { limit: 1 });
    await expectCode(
      alerts.list(PROJECT, { limit: 1, severity: ["info"], cursor: first.nextCursor as string }),
      "CURSOR_INVALID",
    );
    await expectCode(alerts.list(PROJECT, { cursor: "not-a-cursor" }), "CURSOR_INVALID");
  });

  it("refuses hostile input with stable codes and stores nothing of it", async () => {
    const huge = { values: "x".repeat(20_000) };
    const tooLarge = await expectCode(alerts.raise(PROJECT, drift({ evidence: huge })), "EVIDENCE_TOO_LARGE");
    expect(tooLarge.details).toMatchObject({ limit: 16_384 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expectCode(alerts.raise(PROJECT, drift({ evidence: cyclic })), "VALIDATION_FAILED");
    const invalid = await expectCode(
      alerts.raise(PROJECT, {
        source: "Not A Source",
        subject: "",
        severity: "fatal" as never,
        title: "t".repeat(201),
        reason: "",
      }),
      "VALIDATION_FAILED",
    );
    expect((invalid.details as { issues: { path: string }[] }).issues.map((i) => i.path).sort()).toEqual([
      "/reason",
      "/severity",
      "/source",
      "/subject",
      "/title",
    ]);
    await expectCode(alerts.raise("nowhere", drift()), "PROJECT_NOT_FOUND");
    await expectCode(alerts.get(PROJECT, "alr_missing"), "ALERT_NOT_FOUND");
    await expectCode(alerts.acknowledge(PROJECT, "alr_missing", { by: "ana" }), "ALERT_NOT_FOUND");
    await expectCode(alerts.acknowledge(PROJECT, "alr_missing", { by: "" }), "VALIDATION_FAILED");
    // An alert of another project is not found through this one.
    const { alert } = await alerts.raise("other", drift());
    await expectCode(alerts.get(PROJECT, alert.id), "ALERT_NOT_FOUND");
    expect((await alerts.list(PROJECT)).items).toEqual([]);
  });

  it("queues one delivery per matching subscription in the raise's own transaction", async () => {
    const critical = await webhooks.create(PROJECT, {
      url: "https://hooks.example.com/a",
      severities: ["critical"],
    });
    const all = await webhooks.create(PROJECT, { url: "https://hooks.example.com/b" });
    await webhooks.create(PROJECT, { url: "https://hooks.example.com/c", sources: ["autopilot"] });
    await webhooks.create(PROJECT, { url: "https://hooks.example.com/d", enabled: false });
    await alerts.raise(PROJECT, drift({ severity: "warning" }));
    // Counted again: no new event, no delivery.
    await alerts.raise(PROJECT, drift({ severity: "warning" }));
    expect((await webhooks.deliveries(PROJECT, all.id)).map((d) => d.event)).toEqual(["alert.raised"]);
    expect(await webhooks.deliveries(PROJECT, critical.id)).toEqual([]);
    await alerts.raise(PROJECT, drift({ severity: "critical" }));
    expect((await webhooks.deliveries(PROJECT, critical.id)).map((d) => d.event)).toEqual([
      "alert.escalated",
    ]);
    const queued = await jobs.list({ kind: "alerts.deliver" });
    expect(queued).toHaveLength(3);
    expect(queued.every((job) => job.status === "queued")).toBe(true);
    // The secret appears in the creation's answer only.
    expect(critical.secret).toMatch(/^whsec_/);
    const listed = JSON.stringify(await webhooks.list(PROJECT));
    expect(listed).not.toContain(critical.secret);
    expect(listed).not.toContain("secret");
  });
});
