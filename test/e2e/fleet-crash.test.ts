import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { runSkala, startSkala, stopSkala } from "./server-process.js";

interface Progress {
  done: number;
  registered: number;
  run: { id: string; status: string; total: number };
}

async function progressOf(url: string): Promise<Progress | undefined> {
  const res = await fetch(`${url}/api/v1/projects/default/fleets/carparts`).catch(() => undefined);
  return res?.ok ? ((await res.json()) as Progress) : undefined;
}

async function versionsByModel(dataDir: string): Promise<Map<string, string[]>> {
  const store = openStore(`sqlite:${join(dataDir, "skala.db")}`);
  try {
    expect(await store.integrityCheck()).toBe("ok");
    const rows = await store.db
      .selectFrom("model_versions as v")
      .innerJoin("registered_models as m", "m.id", "v.model_id")
      .select(["m.name", "v.id"])
      .where("m.fleet", "=", "carparts")
      .execute();
    const byModel = new Map<string, string[]>();
    for (const row of rows) byModel.set(row.name, [...(byModel.get(row.name) ?? []), row.id]);
    return byModel;
  } finally {
    await store.close();
  }
}

/**
 * kill -9 the server in the middle of the carparts fleet, restart it: the fleet resumes and completes, no
 * segment registered before the crash is trained or registered again, and no model has two versions.
 */
describe("crash during a fleet", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skala-fleet-crash-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("resumes after kill -9 and completes without duplicates", async () => {
    const first = await startSkala(dataDir, ["--training-threads", "1"]);
    const submit = await runSkala([
      "fleet",
      "train",
      "examples/carparts/fleet.yaml",
      "--no-wait",
      "--chunk-size",
      "20",
      "--server",
      first.url,
    ]);
    expect(submit.code, submit.stderr).toBe(0);
    let before: Progress | undefined;
    for (let i = 0; i < 600; i++) {
      before = await progressOf(first.url);
      if (before && before.registered >= 300) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await stopSkala(first.child, "SIGKILL");
    expect(before?.run.status).toBe("running");

    const registeredBefore = await versionsByModel(dataDir);
    expect(registeredBefore.size).toBeGreaterThan(0);
    expect(registeredBefore.size).toBeLessThan(2_509);

    const second = await startSkala(dataDir, ["--training-threads", "1"]);
    let after: Progress | undefined;
    try {
      for (let i = 0; i < 1_200; i++) {
        after = await progressOf(second.url);
        if (after && !["queued", "running"].includes(after.run.status)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await stopSkala(second.child);
    }
    expect(after).toMatchObject({
      done: 2_674,
      registered: 2_509,
      run: { status: "succeeded", id: before?.run.id },
    });

    const registeredAfter = await versionsByModel(dataDir);
    expect(registeredAfter.size).toBe(2_509);
    expect([...registeredAfter.values()].every((ids) => ids.length === 1)).toBe(true);
    for (const [model, ids] of registeredBefore) expect(registeredAfter.get(model)).toEqual(ids);
  }, 180_000);
});
