import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SkalaError } from "../core/index.js";
import { JobQueue, WorkerPool } from "../jobs/index.js";
import type { Store } from "../store/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import type { RaiseAlertInput } from "./alerts.types.js";
import { type Alerts, createAlerts } from "./create-alerts.js";
import { createHttpTransport } from "./http-transport.js";
import { verifySignature } from "./signature.js";
import { validateWebhookUrl } from "./webhook-url.js";
import type { WebhookPayload } from "./webhooks.types.js";

/**
 * Deliveries against a real HTTP receiver on 127.0.0.1, through the real job queue and worker pool: each attempt
 * is a job, the retry schedule is shrunk (100 ms base) and its jitter pinned, so the gaps are predictable.
 */

type Reply = { status: number; headers?: Record<string, string> } | "hang";

interface Received {
  at: number;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

class Receiver {
  readonly received: Received[] = [];
  private server: Server | undefined;
  /** What the next requests get, in order; `fallback` once the script runs out. */
  script: Reply[] = [];
  fallback: Reply = { status: 200 };

  async start(): Promise<string> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => {
        body += chunk;
      });
      req.on("end", () => {
        this.received.push({ at: performance.now(), url: req.url ?? "", headers: req.headers, body });
        const reply = this.script.shift() ?? this.fallback;
        if (reply === "hang") return; // never answers; the sender's timeout must end the attempt
        res.writeHead(reply.status, reply.headers).end("ok");
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const alertInput = (overrides: Partial<RaiseAlertInput> = {}): RaiseAlertInput => ({
  source: "monitoring",
  subject: "model:part-A12",
  severity: "critical",
  title: "MASE doubled",
  reason: "MASE 2.4 over 3 periods, reference 1.1",
  evidence: { mase: 2.4 },
  ...overrides,
});

const BASE_MS = 100;
const TIMEOUT_MS = 300;

describe.each(testDialects())("webhook delivery on %s", (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;
  let pool: WorkerPool;
  let capability: Alerts;
  let receiver: Receiver;
  let base: string;

  beforeEach(async () => {
    ({ store, dispose } = await freshStore(dialect));
    await store.db
      .insertInto("projects")
      .values({ id: "prj_acme", name: "acme", description: "", created_at: "2026-01-01T00:00:00.000Z" })
      .execute();
    const jobs = new JobQueue({ store });
    capability = createAlerts({
      store,
      jobs,
      transport: createHttpTransport({ allowPrivateAddresses: true }),
      allowPrivateAddresses: true,
      maxAttempts: 5,
      timeoutMs: TIMEOUT_MS,
      schedule: { baseMs: BASE_MS, maxMs: 10_000, maxRetryAfterMs: 5_000 },
      // Equal jitter at its midpoint: each delay is 3/4 of its exponential step.
      random: () => 0.5,
    });
    pool = new WorkerPool({ queue: jobs, concurrency: 2, pollMs: 20, leaseMs: 5_000 });
    capability.attach(pool);
    pool.start();
    receiver = new Receiver();
    base = await receiver.start();
  });

  afterEach(async () => {
    await pool.stop({ timeoutMs: 2_000, abort: true });
    await receiver.stop();
    await dispose();
  });

  it("retries a 500, a timeout and a 429 with Retry-After with growing delays, then delivers, signed every time", async () => {
    receiver.script = [
      { status: 500 },
      "hang",
      { status: 429, headers: { "retry-after": "1" } },
      { status: 204 },
    ];
    const webhook = await capability.webhooks.create("acme", { url: `${base}/hooks/skala` });
    const { alert } = await capability.alerts.raise("acme", alertInput());
    const [pending] = await capability.webhooks.deliveries("acme", webhook.id);
    const delivered = await waitFor(async () => {
      const d = await capability.webhooks.delivery(pending?.id as string);
      return d?.status === "delivered" ? d : undefined;
    });
    expect(delivered).toMatchObject({ attempts: 4, lastStatus: 204, lastError: null, nextAttemptAt: null });
    expect(receiver.received).toHaveLength(4);
    const at = receiver.received.map((r) => r.at);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    // After the 500: 3/4 of 100 ms. After the timeout: the 300 ms it waited, then 3/4 of 200 ms. After the 429:
    // its Retry-After of 1 s, which is longer than the 3/4 of 400 ms the schedule would have waited.
    expect(gaps[0]).toBeGreaterThanOrEqual(0.75 * BASE_MS - 5);
    expect(gaps[1]).toBeGreaterThanOrEqual(TIMEOUT_MS + 1.5 * BASE_MS - 5);
    expect(gaps[2]).toBeGreaterThanOrEqual(1_000 - 5);
    // Every attempt is the same message (one delivery id, one body), numbered, and signed with the secret.
    for (const [i, request] of receiver.received.entries()) {
      expect(request.url).toBe("/hooks/skala");
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["skala-delivery"]).toBe(pending?.id);
      expect(request.headers["skala-attempt"]).toBe(String(i + 1));
      expect(request.headers["skala-event"]).toBe("alert.raised");
      const header = request.headers["skala-signature"] as string;
      expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      const nowSeconds = Math.floor(Date.now() / 1000);
      expect(
        verifySignature({ secret: webhook.secret, body: request.body, header, nowSeconds }),
      ).toMatchObject({
        ok: true,
      });
      // Tampered, wrongly keyed or replayed later: refused.
      expect(
        verifySignature({ secret: webhook.secret, body: `${request.body} `, header, nowSeconds }),
      ).toEqual({
        ok: false,
        reason: "mismatch",
      });
      expect(
        verifySignature({ secret: "whsec_someone_else_entirely", body: request.body, header, nowSeconds }),
      ).toEqual({ ok: false, reason: "mismatch" });
      expect(
        verifySignature({ secret: webhook.secret, body: request.body, header, nowSeconds: nowSeconds + 301 }),
      ).toEqual({ ok: false, reason: "expired" });
    }
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    const payload = JSON.parse(receiver.received[0]?.body as string) as WebhookPayload;
    expect(payload).toMatchObject({ id: pending?.id, event: "alert.raised", project: "acme" });
    expect(payload.alert).toMatchObject({ id: alert.id, severity: "critical", evidence: { mase: 2.4 } });
    // One job per attempt on the queue, all succeeded.
    const jobs = await new JobQueue({ store }).list({ kind: "alerts.deliver" });
    // The delays the schedule chose, from the end of each attempt to the due time of the next: 75, 150, then the
    // 1,000 ms Retry-After asked for: growing, and pinned by the jitter at its midpoint.
    const scheduled = jobs
      .slice(1)
      .map((job, i) => Date.parse(job.runAfter) - Date.parse(jobs[i]?.finishedAt as string));
    for (const [i, expected] of [0.75 * BASE_MS, 1.5 * BASE_MS, 1_000].entries()) {
      expect(scheduled[i]).toBeLessThanOrEqual(expected);
      // Less the time between the attempt's end and its job's completion (a commit or two).
      expect(scheduled[i]).toBeGreaterThan(expected - 100);
    }
    expect(scheduled[0]).toBeLessThan(scheduled[1] as number);
    expect(scheduled[1]).toBeLessThan(scheduled[2] as number);
    expect(jobs.map((j) => [(j.payload as { attempt: number }).attempt, j.status])).toEqual([
      [1, "succeeded"],
      [2, "succeeded"],
      [3, "succeeded"],
      [4, "succeeded"],
    ]);
  });

  it("ends a delivery that always fails as a dead letter after the last attempt; redelivery sends it again", async () => {
    receiver.fallback = { status: 503 };
    const webhook = await capability.webhooks.create("acme", { url: `${base}/down` });
    const { alert } = await capability.alerts.raise("acme", alertInput());
    const page = await waitFor(async () => {
      const letters = await capability.webhooks.deadLetters("acme");
      return letters.items.length > 0 ? letters : undefined;
    });
    const [letter] = page.items;
    expect(letter).toMatchObject({
      webhookId: webhook.id,
      alertId: alert.id,
      event: "alert.raised",
      attempts: 5,
      lastStatus: 503,
      lastError: "HTTP 503",
      redeliveredAt: null,
      redeliveryId: null,
    });
    expect(receiver.received).toHaveLength(5);
    expect((await capability.webhooks.delivery(letter?.deliveryId as string))?.status).toBe("dead");

    receiver.fallback = { status: 200 };
    const { delivery, created } = await capability.webhooks.redeliver("acme", letter?.id as string);
    expect(created).toBe(true);
    expect(delivery.id).not.toBe(letter?.deliveryId);
    const done = await waitFor(async () => {
      const d = await capability.webhooks.delivery(delivery.id);
      return d?.status === "delivered" ? d : undefined;
    });
    expect(done.attempts).toBe(1);
    const last = receiver.received.at(-1) as Received;
    expect(last.headers["skala-delivery"]).toBe(delivery.id);
    expect((JSON.parse(last.body) as WebhookPayload).alert.id).toBe(alert.id);
    expect(
      verifySignature({
        secret: webhook.secret,
        body: last.body,
        header: last.headers["skala-signature"] as string,
        nowSeconds: Math.floor(Date.now() / 1000),
      }).ok,
    ).toBe(true);
    // The dead letter names its redelivery; asking again returns that delivery instead of sending once more.
    expect(await capability.webhooks.deadLetter("acme", letter?.id as string)).toMatchObject({
      redeliveryId: delivery.id,
    });
    expect(await capability.webhooks.redeliver("acme", letter?.id as string)).toMatchObject({
      created: false,
      delivery: { id: delivery.id },
    });
    const code = await capability.webhooks.redeliver("acme", "dlt_missing").catch((e: SkalaError) => e.code);
    expect(code).toBe("DEAD_LETTER_NOT_FOUND");
  });

  it("never follows a redirect and does not retry a refusal (3xx, 4xx): one attempt, then a dead letter", async () => {
    receiver.script = [{ status: 302, headers: { location: `${base}/elsewhere` } }, { status: 410 }];
    await capability.webhooks.create("acme", { url: `${base}/moved` });
    await capability.alerts.raise("acme", alertInput({ dedupKey: "one" }));
    const first = await waitFor(async () => (await capability.webhooks.deadLetters("acme")).items[0]);
    expect(first).toMatchObject({ attempts: 1, lastStatus: 302 });
    await capability.alerts.raise("acme", alertInput({ dedupKey: "two" }));
    const second = await waitFor(async () => {
      const items = (await capability.webhooks.deadLetters("acme")).items;
      return items.length === 2 ? items[0] : undefined;
    });
    expect(second).toMatchObject({ attempts: 1, lastStatus: 410 });
    expect(receiver.received.map((r) => r.url)).toEqual(["/moved", "/moved"]);
  });

  it("cancels queued attempts of a disabled subscription and sends nothing to a removed one", async () => {
    receiver.fallback = { status: 500 };
    const webhook = await capability.webhooks.create("acme", { url: `${base}/flaky` });
    await capability.alerts.raise("acme", alertInput());
    await waitFor(async () => (receiver.received.length >= 1 ? true : undefined));
    await capability.webhooks.update("acme", webhook.id, { enabled: false });
    const [delivery] = await capability.webhooks.deliveries("acme", webhook.id);
    const cancelled = await waitFor(async () => {
      const d = await capability.webhooks.delivery(delivery?.id as string);
      return d?.status === "cancelled" ? d : undefined;
    });
    expect(cancelled.attempts).toBeGreaterThanOrEqual(1);
    const sent = receiver.received.length;
    await capability.webhooks.remove("acme", webhook.id);
    await capability.alerts.raise("acme", alertInput({ dedupKey: "after-removal" }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received).toHaveLength(sent);
  });
});

describe("private addresses", () => {
  it("are allowed by default and refused, literal or resolved, when alerts.allowPrivateAddresses is false", async () => {
    const receiver = new Receiver();
    const base = await receiver.start();
    const port = new URL(base).port;
    try {
      expect(validateWebhookUrl(`${base}/x`, { allowPrivateAddresses: true })).toBe(`${base}/x`);
      for (const url of [
        `http://127.0.0.1:${port}/`,
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:192.168.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://127.1/",
        "http://[fd12::1]/",
        "http://[fe80::1]/",
        "http://localhost/",
      ]) {
        expect(() => validateWebhookUrl(url, { allowPrivateAddresses: false }), url).toThrow(
          expect.objectContaining({ code: "WEBHOOK_URL_INVALID" }),
        );
      }
      expect(validateWebhookUrl("https://hooks.example.com/a", { allowPrivateAddresses: false })).toBe(
        "https://hooks.example.com/a",
      );
      // A name that resolves to a private address is refused after DNS, before any connection.
      const strict = createHttpTransport({ allowPrivateAddresses: false });
      const viaName = await strict.send({
        url: `http://localhost:${port}/`,
        headers: {},
        body: "{}",
        timeoutMs: 2_000,
      });
      expect(viaName).toMatchObject({ kind: "failed", timedOut: false });
      expect(viaName.kind === "failed" && viaName.error).toMatch(/private address/);
      const viaLiteral = await strict.send({ url: `${base}/`, headers: {}, body: "{}", timeoutMs: 2_000 });
      expect(viaLiteral).toMatchObject({ kind: "failed" });
      expect(receiver.received).toHaveLength(0);
      const open = createHttpTransport({ allowPrivateAddresses: true });
      expect(
        await open.send({ url: `http://localhost:${port}/`, headers: {}, body: "{}", timeoutMs: 2_000 }),
      ).toEqual({
        kind: "answered",
        status: 200,
        retryAfter: undefined,
      });
    } finally {
      await receiver.stop();
    }
  });
});

describe.each(testDialects())("a rerun attempt on %s", (dialect) => {
  it("records nothing twice: an attempt already recorded (its job reclaimed after a crash) sends nothing", async () => {
    const { store, dispose } = await freshStore(dialect);
    const receiver = new Receiver();
    const base = await receiver.start();
    try {
      await store.db
        .insertInto("projects")
        .values({ id: "prj_acme", name: "acme", description: "", created_at: "2026-01-01T00:00:00.000Z" })
        .execute();
      const jobs = new JobQueue({ store });
      const { alerts, webhooks } = createAlerts({
        store,
        jobs,
        transport: createHttpTransport({ allowPrivateAddresses: true }),
        allowPrivateAddresses: true,
        maxAttempts: 3,
        schedule: { baseMs: 60_000 },
      });
      receiver.script = [{ status: 500 }];
      const webhook = await webhooks.create("acme", { url: `${base}/x` });
      await alerts.raise("acme", alertInput());
      const [delivery] = await webhooks.deliveries("acme", webhook.id);
      const id = delivery?.id as string;
      // The worker runs attempt 1 (a 500: the next attempt is queued a minute later), then crashes before
      // completing its job; the queue hands the job out again and the same attempt runs a second time.
      expect(await webhooks.deliver({ deliveryId: id, attempt: 1 })).toMatchObject({
        outcome: "retry",
        status: 500,
      });
      expect(await webhooks.deliver({ deliveryId: id, attempt: 1 })).toMatchObject({ outcome: "skipped" });
      expect(receiver.received).toHaveLength(1);
      expect(await webhooks.delivery(id)).toMatchObject({ attempts: 1, lastStatus: 500, status: "pending" });
      const queued = await jobs.list({ kind: "alerts.deliver" });
      expect(queued.map((j) => (j.payload as { attempt: number }).attempt)).toEqual([1, 2]);
      const next = queued[1];
      expect(Date.parse(next?.runAfter as string) - Date.now()).toBeGreaterThan(25_000);
      // Attempt 2 succeeds; running it again (or a stale attempt 1) changes nothing.
      expect(await webhooks.deliver({ deliveryId: id, attempt: 2 })).toMatchObject({ outcome: "delivered" });
      expect(await webhooks.deliver({ deliveryId: id, attempt: 2 })).toMatchObject({ outcome: "skipped" });
      expect(receiver.received).toHaveLength(2);
      expect(await webhooks.delivery(id)).toMatchObject({ attempts: 2, status: "delivered" });
    } finally {
      await receiver.stop();
      await dispose();
    }
  });
});
