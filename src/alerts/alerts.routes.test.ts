import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../http/test-support/test-app.js";
import { JobQueue, WorkerPool } from "../jobs/index.js";
import { testDialects } from "../store/test-support/dialects.js";
import { createAlerts } from "./create-alerts.js";
import { createHttpTransport } from "./http-transport.js";

/** The alert endpoints through buildApp (`app.inject`), with a worker pool delivering to a local receiver. */
describe.each(testDialects())("alerts over HTTP on %s", (dialect) => {
  let harness: Awaited<ReturnType<typeof testApp>>;
  let pool: WorkerPool;
  let receiver: Server;
  let receiverUrl: string;
  let receiverStatus = 500;
  const api = "/api/v1/projects/default";

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(receiverStatus).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    harness = await testApp({
      dialect,
      alerts: ({ store }) => {
        const jobs = new JobQueue({ store });
        const alerts = createAlerts({
          store,
          jobs,
          transport: createHttpTransport({ allowPrivateAddresses: true }),
          allowPrivateAddresses: true,
          maxAttempts: 2,
          timeoutMs: 1_000,
          schedule: { baseMs: 20 },
        });
        pool = new WorkerPool({ queue: jobs, concurrency: 1, pollMs: 20 });
        alerts.attach(pool);
        pool.start();
        return alerts;
      },
    });
  });
  afterAll(async () => {
    await pool.stop({ timeoutMs: 2_000, abort: true });
    await harness.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  const inject = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: unknown) =>
    harness.app.inject({ method, url, ...(payload !== undefined && { payload: payload as object }) });

  const raise = (overrides: Record<string, unknown> = {}) =>
    inject("POST", `${api}/alerts`, {
      source: "monitoring",
      subject: "model:part-A12",
      severity: "warning",
      title: "Coverage of the 80 % interval below 0.7",
      reason: "0.55 over the last 8 periods",
      evidence: { coverage: 0.55, periods: 8 },
      dedupKey: "coverage:part-A12",
      ...overrides,
    });

  it("raises (201, then 200 for the same key), lists, filters, pages, acknowledges and resolves", async () => {
    const created = await raise();
    expect(created.statusCode).toBe(201);
    const alert = created.json();
    const again = await raise();
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: alert.id, count: 2 });
    await raise({ dedupKey: "other", severity: "critical", subject: "fleet:carparts" });

    const inbox = await inject("GET", `${api}/alerts`);
    expect(inbox.statusCode).toBe(200);
    expect(inbox.json().items.map((a: { severity: string }) => a.severity)).toEqual(["critical", "warning"]);
    const page = await inject("GET", `${api}/alerts?limit=1`);
    const next = await inject("GET", `${api}/alerts?limit=1&cursor=${page.json().nextCursor}`);
    expect(next.json()).toMatchObject({ items: [{ id: alert.id }], nextCursor: null });
    const filtered = await inject(
      "GET",
      `${api}/alerts?severity=critical&severity=info&subject=fleet:carparts`,
    );
    expect(filtered.json().items).toHaveLength(1);

    const acked = await inject("POST", `${api}/alerts/${alert.id}/acknowledge`, { by: "ana", note: "on it" });
    expect(acked.statusCode).toBe(200);
    expect(acked.json()).toMatchObject({
      status: "acknowledged",
      acknowledged: { by: "ana", note: "on it" },
    });
    const resolved = await inject("POST", `${api}/alerts/${alert.id}/resolve`, { by: "ana" });
    expect(resolved.json()).toMatchObject({ status: "resolved", resolved: { by: "ana", note: null } });
    const get = await inject("GET", `${api}/alerts/${alert.id}`);
    expect(get.json()).toEqual(resolved.json());
    const late = await inject("POST", `${api}/alerts/${alert.id}/acknowledge`, { by: "bo" });
    expect(late.statusCode).toBe(409);
    expect(late.json().error.code).toBe("ALERT_RESOLVED");
    const history = await inject("GET", `${api}/alerts?status=resolved`);
    expect(history.json().items.map((a: { id: string }) => a.id)).toEqual([alert.id]);
  });

  it("answers hostile input with stable codes", async () => {
    const cases: Array<[Awaited<ReturnType<typeof inject>>, number, string]> = [
      [await raise({ evidence: { blob: "x".repeat(20_000) }, dedupKey: "huge" }), 413, "EVIDENCE_TOO_LARGE"],
      [await raise({ severity: "apocalyptic" }), 400, "VALIDATION_FAILED"],
      [await raise({ extra: true }), 400, "VALIDATION_FAILED"],
      [await inject("GET", `${api}/alerts/alr_nope`), 404, "ALERT_NOT_FOUND"],
      [await inject("POST", `${api}/alerts/alr_nope/resolve`, { by: "ana" }), 404, "ALERT_NOT_FOUND"],
      [await inject("GET", "/api/v1/projects/nowhere/alerts"), 404, "PROJECT_NOT_FOUND"],
      [await inject("GET", `${api}/alerts?cursor=garbage`), 400, "CURSOR_INVALID"],
      [await inject("GET", `${api}/alerts?status=maybe`), 400, "VALIDATION_FAILED"],
      [await inject("GET", `${api}/webhooks/whk_nope`), 404, "WEBHOOK_NOT_FOUND"],
      [await inject("DELETE", `${api}/webhooks/whk_nope`), 404, "WEBHOOK_NOT_FOUND"],
      [await inject("POST", `${api}/dead-letters/dlt_nope/redeliver`), 404, "DEAD_LETTER_NOT_FOUND"],
      [await inject("POST", `${api}/webhooks`, { url: "ftp://example.com/x" }), 400, "WEBHOOK_URL_INVALID"],
      [await inject("POST", `${api}/webhooks`, { url: "javascript:alert(1)" }), 400, "WEBHOOK_URL_INVALID"],
      [await inject("POST", `${api}/webhooks`, { url: "not a url" }), 400, "WEBHOOK_URL_INVALID"],
      [await inject("POST", `${api}/webhooks`, { url: "http://" }), 400, "WEBHOOK_URL_INVALID"],
      [
        await inject("POST", `${api}/webhooks`, { url: `https://e.com/${"a".repeat(2_100)}` }),
        400,
        "VALIDATION_FAILED",
      ],
      [
        await inject("POST", `${api}/webhooks`, { url: "https://e.com", secret: "short" }),
        400,
        "VALIDATION_FAILED",
      ],
      [
        await inject("POST", `${api}/webhooks`, { url: "https://e.com", severities: ["loud"] }),
        400,
        "VALIDATION_FAILED",
      ],
    ];
    for (const [res, status, code] of cases) {
      expect([res.statusCode, res.json().error?.code], res.body).toEqual([status, code]);
    }
    const withPassword = await inject("POST", `${api}/webhooks`, { url: "https://bob:hunter2@e.com/x" });
    expect(withPassword.json().error.code).toBe("WEBHOOK_URL_INVALID");
    expect(withPassword.body).not.toContain("hunter2");
  });

  it("creates, lists, changes and removes webhooks; the secret is shown once; failures end as dead letters that redeliver", async () => {
    receiverStatus = 500;
    const created = await inject("POST", `${api}/webhooks`, { url: receiverUrl, severities: ["critical"] });
    expect(created.statusCode).toBe(201);
    const webhook = created.json();
    expect(webhook.secret).toMatch(/^whsec_/);
    const listed = await inject("GET", `${api}/webhooks`);
    expect(listed.json().items.map((w: { id: string }) => w.id)).toContain(webhook.id);
    const one = await inject("GET", `${api}/webhooks/${webhook.id}`);
    for (const res of [listed, one]) {
      expect(res.body).not.toContain(webhook.secret);
      expect(res.body).not.toContain('"secret"');
    }
    const patched = await inject("PATCH", `${api}/webhooks/${webhook.id}`, { sources: ["monitoring"] });
    expect(patched.json()).toMatchObject({ sources: ["monitoring"], severities: ["critical"] });

    await raise({ severity: "critical", dedupKey: "deliver-me" });
    let letters: { items: Array<{ id: string; attempts: number; lastStatus: number }> } = { items: [] };
    for (let i = 0; i < 200 && letters.items.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      letters = (await inject("GET", `${api}/dead-letters?webhook=${webhook.id}`)).json();
    }
    expect(letters.items[0]).toMatchObject({ attempts: 2, lastStatus: 500 });
    const deliveries = await inject("GET", `${api}/webhooks/${webhook.id}/deliveries`);
    expect(deliveries.json().items[0]).toMatchObject({ status: "dead", attempts: 2 });

    receiverStatus = 200;
    const redelivered = await inject("POST", `${api}/dead-letters/${letters.items[0]?.id}/redeliver`);
    expect(redelivered.statusCode).toBe(202);
    const twice = await inject("POST", `${api}/dead-letters/${letters.items[0]?.id}/redeliver`);
    expect(twice.statusCode).toBe(200);
    expect(twice.json().id).toBe(redelivered.json().id);
    let status = "";
    for (let i = 0; i < 200 && status !== "delivered"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const items = (await inject("GET", `${api}/webhooks/${webhook.id}/deliveries`)).json().items;
      status = items.find((d: { id: string }) => d.id === redelivered.json().id)?.status;
    }
    expect(status).toBe("delivered");

    const removed = await inject("DELETE", `${api}/webhooks/${webhook.id}`);
    expect(removed.statusCode).toBe(204);
    expect((await inject("GET", `${api}/webhooks/${webhook.id}`)).statusCode).toBe(404);
    expect((await inject("GET", `${api}/dead-letters`)).json().items).toEqual([]);
  });
});
