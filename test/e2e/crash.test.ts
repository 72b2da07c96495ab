import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createFsBlobStore, parseDigest } from "../../src/artifacts/index.js";
import { forecastArtifact } from "../../src/serving/test-support/forecast-artifacts.js";
import { openStore } from "../../src/store/index.js";
import { startSkala, stopSkala } from "./server-process.js";

const VERSIONS = 5_000;

/**
 * kill -9 the server while it registers 5,000 versions in one bulk request, at several moments (while
 * artifacts are written, inside the transaction, around commit). After each crash: the batch is entirely
 * present or entirely absent, every referenced blob exists and verifies, SQLite's integrity check passes,
 * and the restarted server is ready.
 */
describe("crash during bulk registration", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skala-crash-"));
  afterAll(async () => {
    console.log(`crash outcomes:\n  ${outcomes.join("\n  ")}`);
    // Tens of thousands of blob files: removing them is slow on a busy disk.
    await rm(dataDir, { recursive: true, force: true });
  }, 180_000);
  const outcomes: string[] = [];
  /** How long an uninterrupted bulk request takes here; the kills are placed at fractions of it. */
  let fullRequestMs = 0;

  type Kill =
    | { when: "never" }
    | { when: "fraction"; of: number }
    | { when: "after transaction start"; delayMs: number };
  // The first run calibrates (no kill). One kill lands while the artifacts are written; the others are timed
  // from the server's own debug log line that the all-or-nothing transaction has begun.
  const kills: Array<[string, Kill]> = [
    ["never (calibration)", { when: "never" }],
    ["while artifacts are written", { when: "fraction", of: 0.3 }],
    ["as the transaction starts", { when: "after transaction start", delayMs: 0 }],
    ["50 ms into the transaction", { when: "after transaction start", delayMs: 50 }],
    ["250 ms into the transaction", { when: "after transaction start", delayMs: 250 }],
  ];

  it.each(kills)(
    "keeps the batch all-or-nothing when killed %s",
    async (label, kill) => {
      const batch = `b${outcomes.length}`;
      const { url, child } = await startSkala(dataDir, ["--log-level", "debug"]);
      if (kill.when === "fraction") expect(fullRequestMs).toBeGreaterThan(0);
      const transactionStarted = new Promise<void>((resolve) => {
        let log = "";
        child.stdout?.on("data", (chunk: Buffer) => {
          log += chunk.toString();
          if (log.includes("registration transaction started")) resolve();
        });
      });
      const versions = Array.from({ length: VERSIONS }, (_, i) => ({
        model: `crash-${i % 1_000}`,
        runtime: "skala.forecast",
        // A valid forecast (registration checks artifacts); batch and i make every blob distinct.
        artifact: { json: { ...forecastArtifact(i), batch, i } },
        metrics: { mase: (i % 100) / 100 },
        tags: { batch },
        aliases: ["champion"],
      }));
      const request = fetch(`${url}/api/v1/projects/default/bulk/versions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ versions }),
      }).then(
        (res) => res.status,
        () => "killed",
      );
      const started = performance.now();
      let status: number | string;
      switch (kill.when) {
        case "never":
          status = await request;
          fullRequestMs = performance.now() - started;
          expect(status).toBe(201);
          await stopSkala(child, "SIGKILL");
          break;
        case "fraction":
          await new Promise((resolve) => setTimeout(resolve, kill.of * fullRequestMs));
          await stopSkala(child, "SIGKILL");
          status = await request;
          break;
        case "after transaction start":
          await transactionStarted;
          await new Promise((resolve) => setTimeout(resolve, kill.delayMs));
          await stopSkala(child, "SIGKILL");
          status = await request;
          break;
      }

      const store = openStore(`sqlite:${join(dataDir, "skala.db")}`);
      try {
        expect(await store.integrityCheck()).toBe("ok");
        const present = await store.db
          .selectFrom("version_tags")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("key", "=", "batch")
          .where("value", "=", batch)
          .executeTakeFirstOrThrow();
        const count = Number(present.n);
        expect([0, VERSIONS]).toContain(count);
        if (status === 201) expect(count).toBe(VERSIONS);
        outcomes.push(`killed ${label}: ${count === 0 ? "absent" : "present"} (response ${status})`);

        const blobs = createFsBlobStore(join(dataDir, "artifacts"));
        const referenced = await store.db
          .selectFrom("model_versions")
          .select("artifact_digest")
          .distinct()
          .execute();
        for (const row of referenced) {
          expect(await blobs.verify(parseDigest(row.artifact_digest))).toBe(true);
        }
        const aliases = await store.db
          .selectFrom("aliases as a")
          .leftJoin("model_versions as v", "v.id", "a.version_id")
          .select(["a.alias", "v.id"])
          .execute();
        expect(aliases.every((a) => a.id !== null)).toBe(true);
      } finally {
        await store.close();
      }

      const restarted = await startSkala(dataDir);
      try {
        const ready = await fetch(`${restarted.url}/readyz`);
        expect(ready.status).toBe(200);
        const numbering = await fetch(`${restarted.url}/api/v1/projects/default/bulk/versions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            versions: [
              {
                model: "crash-0",
                runtime: "skala.forecast",
                artifact: { json: { ...forecastArtifact(0), batch } },
              },
            ],
          }),
        });
        expect(numbering.status).toBe(201);
      } finally {
        await stopSkala(restarted.child);
      }
    },
    60_000,
  );
});
