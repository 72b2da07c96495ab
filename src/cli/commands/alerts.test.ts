import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAgainstServer } from "../test-support/cli-harness.js";

describe("skala alerts", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  beforeAll(async () => {
    cli = await cliAgainstServer();
  });
  afterAll(async () => {
    await cli.close();
  });

  it("lists the inbox, acknowledges and resolves, and manages webhooks", async () => {
    const raised = await fetch(`${cli.url}/api/v1/projects/default/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        source: "monitoring",
        subject: "model:part-A12",
        severity: "critical",
        title: "MASE doubled",
        reason: "2.4 against 1.1",
        dedupKey: "mase:part-A12",
      }),
    });
    expect(raised.status).toBe(201);
    const alert = (await raised.json()) as { id: string };
    expect((await cli.run("alerts", "list")).stdout).toMatch(
      new RegExp(`${alert.id}.*critical.*open.*monitoring.*model:part-A12.*MASE doubled`),
    );
    const acked = await cli.json<{ status: string; acknowledged: { by: string; note: string } }>(
      "alerts",
      "ack",
      alert.id,
      "--by",
      "ana",
      "--note",
      "retraining",
    );
    expect(acked).toMatchObject({ status: "acknowledged", acknowledged: { by: "ana", note: "retraining" } });
    expect(await cli.json("alerts", "resolve", alert.id, "--by", "ana")).toMatchObject({
      status: "resolved",
    });
    expect((await cli.json<{ items: unknown[] }>("alerts", "list")).items).toEqual([]);
    expect(
      (
        await cli.json<{ items: unknown[] }>(
          "alerts",
          "list",
          "--status",
          "resolved",
          "--severity",
          "critical",
        )
      ).items,
    ).toHaveLength(1);
    const again = await cli.run("alerts", "ack", alert.id, "--by", "bo");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error ALERT_RESOLVED: /);

    const created = await cli.json<{ id: string; secret: string }>(
      "alerts",
      "webhooks",
      "add",
      "https://hooks.example.com/skala",
      "--severity",
      "critical",
      "--severity",
      "warning",
    );
    expect(created.secret).toMatch(/^whsec_/);
    const listed = await cli.run("alerts", "webhooks", "list");
    expect(listed.stdout).toMatch(
      new RegExp(`${created.id}.*https://hooks.example.com/skala.*critical,warning`),
    );
    expect(listed.stdout).not.toContain(created.secret);
    const bad = await cli.run("alerts", "webhooks", "add", "ftp://example.com/");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error WEBHOOK_URL_INVALID: /);
    expect((await cli.run("alerts", "webhooks", "remove", created.id)).stdout).toContain(
      `removed ${created.id}`,
    );
    expect((await cli.run("alerts", "webhooks", "remove", created.id)).stderr).toMatch(
      /^error WEBHOOK_NOT_FOUND: /,
    );
    expect((await cli.json<{ items: unknown[] }>("alerts", "dead-letters")).items).toEqual([]);
  });
});
