import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryBlobStore } from "../artifacts/index.js";
import { manualClock, SkalaError } from "../core/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { createRegistry, type Registry } from "./index.js";

async function expectCode(promise: Promise<unknown>, code: string): Promise<SkalaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(SkalaError);
  expect((error as SkalaError).code).toBe(code);
  return error as SkalaError;
}

const csv = (text: string) => new TextEncoder().encode(text);

/** Thirty one-version models `bulk-0`…`bulk-29` in fleet "bulk": segment A for the first ten, mase i/10. */
const bulkItems = () =>
  Array.from({ length: 30 }, (_, i) => ({
    model: `bulk-${i}`,
    fleet: "bulk",
    runtime: "skala.forecast",
    artifact: { json: { i } },
    metrics: { mase: i / 10 },
    tags: { segment: i < 10 ? "A" : "B" },
    aliases: ["champion"],
  }));

// Every test starts from an empty store of its own, so none depends on what another wrote or on their order
// (checked with `vitest --sequence.shuffle` and `-t` on single tests).
describe.each(testDialects())("registry on %s", (dialect) => {
  let registry: Registry;
  let dispose: () => Promise<void>;
  let clock: ReturnType<typeof manualClock>;
  const P = "acme";

  beforeEach(async () => {
    const fresh = await freshStore(dialect);
    dispose = fresh.dispose;
    clock = manualClock();
    registry = createRegistry({
      store: fresh.store,
      blobs: createMemoryBlobStore({ clock }),
      clock,
      limits: { bulkMaxVersions: 50, pageSizeMax: 1000, artifactMaxBytes: 1 << 20 },
    });
    await registry.projects.create({ name: P, description: "test" });
  });
  afterEach(() => dispose());

  /** Model `forecast-A12` with version 1 (from a run, skala.forecast, tag segment=A12) and version 2 (onnx). */
  async function forecastModel() {
    await registry.models.create(P, { name: "forecast-A12" });
    const run = await registry.runs.create(P, { name: "train", params: { method: "ets" } });
    const v1 = await registry.versions.create(P, "forecast-A12", {
      runtime: "skala.forecast",
      artifact: { json: { method: "ets", alpha: 0.2 } },
      metrics: { mase: 0.82 },
      tags: { segment: "A12" },
      lineage: { runId: run.id },
    });
    const uploaded = await registry.artifacts.upload(new TextEncoder().encode("weights"));
    const v2 = await registry.versions.create(P, "forecast-A12", {
      runtime: "onnx",
      artifact: { digest: uploaded.digest },
      lineage: { parentVersionId: v1.id },
    });
    return { run, v1, v2 };
  }

  /** `forecastModel` with alias champion on version 2. */
  async function championModel() {
    const created = await forecastModel();
    await registry.versions.setAlias(P, "forecast-A12", "champion", { version: 2 });
    return created;
  }

  it("creates projects with dev, test and prod environments, and refuses duplicates", async () => {
    const project = await registry.projects.get(P);
    expect(project.environments).toEqual(["dev", "test", "prod"]);
    await expectCode(registry.projects.create({ name: P }), "PROJECT_EXISTS");
    await expectCode(registry.models.list("nope"), "PROJECT_NOT_FOUND");
  });

  it("creates, updates, archives and restores models", async () => {
    const model = await registry.models.create(P, {
      name: "part-1",
      tags: { family: "brakes" },
      fleet: "parts",
    });
    expect(model).toMatchObject({
      name: "part-1",
      fleet: "parts",
      tags: { family: "brakes" },
      latestVersion: 0,
    });
    await expectCode(registry.models.create(P, { name: "part-1" }), "MODEL_EXISTS");
    clock.advance(1000);
    const updated = await registry.models.update(P, "part-1", {
      description: "front brake pad",
      tags: { family: "pads" },
    });
    expect(updated.tags).toEqual({ family: "pads" });
    expect(updated.updatedAt > model.updatedAt).toBe(true);
    await registry.models.archive(P, "part-1");
    await expectCode(registry.models.update(P, "part-1", { description: "x" }), "MODEL_ARCHIVED");
    expect((await registry.models.list(P, { namePrefix: "part-1" })).items).toHaveLength(0);
    expect((await registry.models.list(P, { namePrefix: "part-1", archived: "only" })).items).toHaveLength(1);
    expect((await registry.models.restore(P, "part-1")).archived).toBe(false);
    await expectCode(registry.models.get(P, "absent"), "MODEL_NOT_FOUND");
  });

  it("lists models with prefix, tag and fleet filters and cursor pagination in every sort", async () => {
    for (let i = 0; i < 25; i++) {
      clock.advance(10);
      await registry.models.create(P, {
        name: `list-${String(i).padStart(2, "0")}`,
        tags: { parity: i % 2 === 0 ? "even" : "odd" },
        ...(i < 5 && { fleet: "small" }),
      });
    }
    for (const sort of ["name", "createdAt", "updatedAt"] as const) {
      for (const order of ["asc", "desc"] as const) {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await registry.models.list(P, {
            namePrefix: "list-",
            sort,
            order,
            limit: 7,
            ...(cursor && { cursor }),
          });
          seen.push(...page.items.map((m) => m.name));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(seen).toHaveLength(25);
        expect(new Set(seen).size).toBe(25);
        const sorted = [...seen].sort();
        expect(seen).toEqual(order === "asc" ? sorted : sorted.reverse());
      }
    }
    const even = await registry.models.list(P, { namePrefix: "list-", tags: { parity: "even" }, limit: 100 });
    expect(even.items).toHaveLength(13);
    expect((await registry.models.list(P, { fleet: "small" })).items).toHaveLength(5);
    // A prefix containing LIKE wildcards is taken literally.
    expect((await registry.models.list(P, { namePrefix: "list_" })).items).toHaveLength(0);
    const page = await registry.models.list(P, { namePrefix: "list-", limit: 5 });
    await expectCode(
      registry.models.list(P, { namePrefix: "other", cursor: page.nextCursor as string }),
      "CURSOR_INVALID",
    );
    await expectCode(registry.models.list(P, { cursor: "garbage!" }), "CURSOR_INVALID");
  });

  it("registers versions with artifact, signature, params, metrics, tags and lineage", async () => {
    await registry.models.create(P, { name: "forecast-A12" });
    const run = await registry.runs.create(P, { name: "train", params: { method: "ets" } });
    const v1 = await registry.versions.create(P, "forecast-A12", {
      runtime: "skala.forecast",
      artifact: { json: { method: "ets", alpha: 0.2 } },
      signature: {
        inputs: [{ name: "horizon", datatype: "INT32", shape: [1] }],
        outputs: [{ name: "mean", datatype: "FP64", shape: [-1] }],
      },
      params: { method: "ets" },
      metrics: { mase: 0.82, rmsse: 0.9 },
      tags: { segment: "A12" },
      lineage: { runId: run.id, sourceRef: "git:abc123" },
    });
    expect(v1).toMatchObject({
      model: "forecast-A12",
      version: 1,
      status: "ready",
      metrics: { mase: 0.82, rmsse: 0.9 },
      lineage: { runId: run.id, sourceRef: "git:abc123", datasetVersionId: null, parentVersionId: null },
    });
    expect(v1.artifact.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(v1.signature?.outputs[0]?.shape).toEqual([-1]);
    const uploaded = await registry.artifacts.upload(new TextEncoder().encode("weights"));
    const v2 = await registry.versions.create(P, "forecast-A12", {
      runtime: "onnx",
      artifact: { digest: uploaded.digest },
      lineage: { parentVersionId: v1.id },
    });
    expect(v2.version).toBe(2);
    expect(v2.artifact.size).toBe(7);
    expect((await registry.models.get(P, "forecast-A12")).latestVersion).toBe(2);
    await expectCode(
      registry.versions.create(P, "forecast-A12", {
        runtime: "onnx",
        artifact: { digest: `sha256:${"0".repeat(64)}` },
      }),
      "ARTIFACT_NOT_FOUND",
    );
    const bad = await expectCode(
      registry.versions.create(P, "forecast-A12", {
        runtime: "onnx",
        artifact: { json: 1 },
        lineage: { runId: "run_missing" },
      }),
      "VALIDATION_FAILED",
    );
    expect(JSON.stringify(bad.details)).toContain("/lineage/runId");
    await expectCode(
      registry.versions.create(P, "nope", { runtime: "onnx", artifact: { json: 1 } }),
      "MODEL_NOT_FOUND",
    );
    expect((await registry.models.get(P, "forecast-A12")).latestVersion).toBe(2);
  });

  it("sets, moves, resolves and deletes aliases, keeping the full history", async () => {
    await forecastModel();
    await registry.versions.setAlias(P, "forecast-A12", "champion", { version: 1, reason: "first" });
    expect((await registry.versions.resolve(P, "forecast-A12@champion")).version).toBe(1);
    clock.advance(1000);
    await registry.versions.setAlias(P, "forecast-A12", "champion", { version: 2, reason: "better mase" });
    expect((await registry.versions.get(P, "forecast-A12", "champion")).version).toBe(2);
    expect((await registry.versions.get(P, "forecast-A12", 2)).aliases).toEqual(["champion"]);
    await registry.versions.setAlias(P, "forecast-A12", "challenger", { version: 1 });
    expect(
      (await registry.versions.listAliases(P, "forecast-A12")).map((a) => `${a.alias}=${a.version}`),
    ).toEqual(["challenger=1", "champion=2"]);
    await registry.versions.deleteAlias(P, "forecast-A12", "challenger");
    await expectCode(registry.versions.resolve(P, "forecast-A12@challenger"), "ALIAS_NOT_FOUND");
    await expectCode(registry.versions.deleteAlias(P, "forecast-A12", "challenger"), "ALIAS_NOT_FOUND");
    await expectCode(
      registry.versions.setAlias(P, "forecast-A12", "champion", { version: 9 }),
      "VERSION_NOT_FOUND",
    );
    const history = await registry.versions.aliasHistory(P, "forecast-A12");
    expect(history.map((h) => [h.alias, h.fromVersion, h.toVersion])).toEqual([
      ["challenger", 1, null],
      ["challenger", null, 1],
      ["champion", 1, 2],
      ["champion", null, 1],
    ]);
    expect((await registry.versions.resolve(P, "forecast-A12")).version).toBe(2);
    expect((await registry.versions.resolve(P, "forecast-A12@1")).version).toBe(1);
  });

  it("locates versions for serving by number, alias, or the default alias else the latest", async () => {
    await championModel();
    const M = "forecast-A12";
    const byNumber = await registry.versions.locate(P, M, 1, "champion");
    const full = await registry.versions.get(P, M, 1);
    expect(byNumber).toEqual({
      id: full.id,
      model: M,
      version: 1,
      runtime: full.runtime,
      digest: full.artifact.digest,
      size: full.artifact.size,
      status: full.status,
    });
    expect((await registry.versions.locate(P, M, "champion", "champion"))?.version).toBe(2);
    expect((await registry.versions.locate(P, M, undefined, "champion"))?.version).toBe(2);
    // No such default alias: the latest version.
    await registry.versions.setAlias(P, M, "champion", { version: 1 });
    expect((await registry.versions.locate(P, M, undefined, "champion"))?.version).toBe(1);
    expect((await registry.versions.latest(P, M)).version).toBe(2);
    expect((await registry.versions.locate(P, M, undefined, "no-alias"))?.version).toBe(2);
    expect(await registry.versions.locate(P, M, 999, "champion")).toBeUndefined();
    expect(await registry.versions.locate(P, M, "nope", "champion")).toBeUndefined();
    expect(await registry.versions.locate(P, "no-model", undefined, "champion")).toBeUndefined();
    await expectCode(registry.versions.locate("no-project", M, 1, "champion"), "PROJECT_NOT_FOUND");
  });

  it("sets, lists and deletes deployments per environment, checking weights and targets", async () => {
    await championModel();
    const M = "forecast-A12";
    const prod = await registry.deployments.set(P, "prod", M, {
      routes: [
        { target: "champion", weight: 90 },
        { target: "1", weight: 10 },
      ],
    });
    expect(prod).toMatchObject({ environment: "prod", model: M, shadow: null, pinned: true });
    expect(prod.routes).toEqual([
      { target: "champion", weight: 90 },
      { target: "1", weight: 10 },
    ]);
    const dev = await registry.deployments.set(P, "dev", M, {
      routes: [{ target: "champion", weight: 100 }],
      shadow: "1",
    });
    expect(dev).toMatchObject({ shadow: "1", pinned: false });
    clock.advance(1000);
    const moved = await registry.deployments.set(P, "prod", M, {
      routes: [{ target: "champion", weight: 100 }],
      pinned: false,
    });
    expect(moved.pinned).toBe(false);
    expect(moved.createdAt).toBe(prod.createdAt);
    expect(moved.updatedAt > prod.updatedAt).toBe(true);
    expect((await registry.deployments.list(P, "prod")).map((d) => d.model)).toEqual([M]);
    expect(await registry.deployments.list(P, "test")).toEqual([]);
    expect(await registry.deployments.find(P, "test", M)).toBeUndefined();

    const invalid = await expectCode(
      registry.deployments.set(P, "test", M, {
        routes: [
          { target: "champion", weight: 60 },
          { target: "champion", weight: 30 },
          { target: "nope", weight: 5 },
        ],
        shadow: "77",
      }),
      "VALIDATION_FAILED",
    );
    expect((invalid.details?.issues as Array<{ path: string }> | undefined)?.map((i) => i.path)).toEqual([
      "/routes",
      "/routes/1/target",
      "/routes/2/target",
      "/shadow",
    ]);
    // Nothing was stored by the refused request.
    expect(await registry.deployments.find(P, "test", M)).toBeUndefined();
    await expectCode(
      registry.deployments.set(P, "test", M, {
        routes: [{ target: "champion", weight: 100 }],
        shadow: "champion",
      }),
      "VALIDATION_FAILED",
    );
    await expectCode(
      registry.deployments.set(P, "prod", "no-such-model", { routes: [{ target: "1", weight: 100 }] }),
      "MODEL_NOT_FOUND",
    );
    await registry.deployments.delete(P, "dev", M);
    await expectCode(registry.deployments.get(P, "dev", M), "DEPLOYMENT_NOT_FOUND");
    await expectCode(registry.deployments.delete(P, "dev", M), "DEPLOYMENT_NOT_FOUND");
    await registry.deployments.delete(P, "prod", M);
  });

  it("bulk-registers all or nothing, creating models and aliases", async () => {
    const items = bulkItems();
    const created = await registry.versions.bulkRegister(P, { versions: items });
    expect(created).toHaveLength(30);
    expect(created.every((v) => v.version === 1)).toBe(true);
    expect((await registry.versions.resolve(P, "bulk-7@champion")).id).toBe(created[7]?.id);
    expect((await registry.models.get(P, "bulk-3")).fleet).toBe("bulk");

    // One bad item (unknown run) rejects the whole batch: nothing is stored, numbering is untouched.
    const poisoned = [
      ...items.slice(0, 5),
      { ...items[5], model: "bulk-new", lineage: { runId: "run_nope" } },
    ] as typeof items;
    await expectCode(registry.versions.bulkRegister(P, { versions: poisoned }), "VALIDATION_FAILED");
    await expectCode(registry.models.get(P, "bulk-new"), "MODEL_NOT_FOUND");
    expect((await registry.models.get(P, "bulk-0")).latestVersion).toBe(1);

    await expectCode(registry.versions.bulkRegister(P, { versions: [...items, ...items] }), "BULK_TOO_LARGE");
    await expectCode(
      registry.versions.bulkRegister(P, {
        createModels: false,
        versions: [{ ...items[0], model: "never" }] as typeof items,
      }),
      "MODEL_NOT_FOUND",
    );
    const again = await registry.versions.bulkRegister(P, { versions: [items[0], items[0]] as typeof items });
    expect(again.map((v) => v.version)).toEqual([2, 3]);
  });

  it("searches versions with the filter language and pages through results", async () => {
    const items = bulkItems();
    await registry.versions.bulkRegister(P, { versions: [...items, items[0], items[0]] as typeof items });
    await forecastModel();
    const low = await registry.versions.search(P, {
      filter: 'metrics.mase < 0.5 and tags.segment = "A"',
      limit: 1000,
    });
    expect(low.items.map((v) => v.model).sort()).toEqual([
      "bulk-0",
      "bulk-0",
      "bulk-0",
      "bulk-1",
      "bulk-2",
      "bulk-3",
      "bulk-4",
    ]);
    const either = await registry.versions.search(P, {
      filter: "tags.segment = 'B' or model = 'forecast-A12'",
      limit: 1000,
    });
    expect(either.items).toHaveLength(22);
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await registry.versions.search(P, {
        filter: "runtime = 'skala.forecast'",
        limit: 4,
        ...(cursor && { cursor }),
      });
      for (const v of page.items) seen.add(v.id);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen.size).toBe(33);
    await expectCode(registry.versions.search(P, { filter: "metrics.mase <" }), "FILTER_INVALID");
    const injection = await registry.versions.search(P, { filter: `tags.segment = "' or 1=1 --"` });
    expect(injection.items).toHaveLength(0);
  });

  it("updates a version's status but never its artifact", async () => {
    await registry.versions.bulkRegister(P, { versions: bulkItems() });
    const before = await registry.versions.get(P, "bulk-1", 1);
    const updated = await registry.versions.update(P, "bulk-1", 1, {
      status: "flagged",
      tags: { reason: "gate" },
    });
    expect(updated).toMatchObject({ status: "flagged", tags: { reason: "gate" } });
    expect(updated.artifact).toEqual(before.artifact);
    expect(
      (await registry.versions.search(P, { filter: "status = 'flagged'" })).items.map((v) => v.model),
    ).toEqual(["bulk-1"]);
  });

  it("tracks runs: params once, metric batches with steps, artifacts, finish", async () => {
    const other = await registry.runs.create(P, { name: "other" });
    const run = await registry.runs.create(P, { name: "fit", params: { lr: "0.1" } });
    await registry.runs.logParams(P, run.id, { lr: "0.1", epochs: "3" });
    await expectCode(registry.runs.logParams(P, run.id, { lr: "0.2" }), "CONFLICT");
    await registry.runs.logMetrics(P, run.id, {
      metrics: [
        { key: "loss", value: 3, step: 0 },
        { key: "loss", value: 2, step: 1 },
        { key: "loss", value: 1, step: 2, timestamp: "2026-01-01T00:00:00Z" },
      ],
    });
    const blob = await registry.artifacts.upload(new TextEncoder().encode("plot"));
    await registry.runs.attachArtifact(P, run.id, { name: "plots/loss.png", digest: blob.digest });
    const finished = await registry.runs.finish(P, run.id, "finished");
    expect(finished).toMatchObject({
      status: "finished",
      params: { lr: "0.1", epochs: "3" },
      latestMetrics: { loss: 1 },
      artifacts: [{ name: "plots/loss.png", size: 4 }],
    });
    expect((await registry.runs.metricHistory(P, run.id, "loss")).map((m) => m.value)).toEqual([3, 2, 1]);
    await expectCode(
      registry.runs.logMetrics(P, run.id, { metrics: [{ key: "x", value: 1 }] }),
      "RUN_FINISHED",
    );
    await expectCode(registry.runs.get(P, "run_missing"), "RUN_NOT_FOUND");
    expect((await registry.runs.list(P)).items.map((r) => r.id).sort()).toEqual([other.id, run.id].sort());
  });

  it("registers datasets with a profile, de-duplicating identical content", async () => {
    const blob = await registry.artifacts.upload(
      csv("series_id,period,value,flag\nA,1,3,true\nA,2,,false\nB,1,2.5,true\n"),
    );
    const v1 = await registry.datasets.registerVersion(P, "demand", { digest: blob.digest });
    expect(v1).toMatchObject({ version: 1, rows: 3, format: "csv" });
    expect(v1.schema).toEqual([
      { name: "series_id", type: "string", nullable: false },
      { name: "period", type: "integer", nullable: false },
      { name: "value", type: "number", nullable: true },
      { name: "flag", type: "boolean", nullable: false },
    ]);
    expect((await registry.datasets.registerVersion(P, "demand", { digest: blob.digest })).id).toBe(v1.id);
    const ragged = await registry.artifacts.upload(csv("a,b\n1,2\n3\n"));
    const error = await expectCode(
      registry.datasets.registerVersion(P, "demand", { digest: ragged.digest }),
      "DATASET_INVALID",
    );
    expect(error.message).toMatch(/line 3/);
    const empty = await registry.artifacts.upload(csv(""));
    await expectCode(
      registry.datasets.registerVersion(P, "demand", { digest: empty.digest }),
      "DATASET_INVALID",
    );
    expect((await registry.datasets.versions(P, "demand")).map((v) => v.version)).toEqual([1]);
    await registry.models.create(P, { name: "forecast-A12" });
    const version = await registry.versions.create(P, "forecast-A12", {
      runtime: "onnx",
      artifact: { json: 3 },
      lineage: { datasetVersionId: v1.id },
    });
    expect(version.lineage.datasetVersionId).toBe(v1.id);
    await expectCode(registry.datasets.version(P, "absent", 1), "DATASET_NOT_FOUND");
  });

  it("collects only unreferenced blobs older than the grace period", async () => {
    await forecastModel();
    const run = await registry.runs.create(P, { name: "fit" });
    const plot = await registry.artifacts.upload(new TextEncoder().encode("plot"));
    await registry.runs.attachArtifact(P, run.id, { name: "plot.png", digest: plot.digest });
    const data = await registry.artifacts.upload(csv("a,b\n1,2\n"));
    await registry.datasets.registerVersion(P, "demand", { digest: data.digest });
    const orphan = await registry.artifacts.upload(new TextEncoder().encode("orphan bytes"));
    const young = await registry.artifacts.collectGarbage({ graceSeconds: 3600 });
    expect(young).toMatchObject({ scanned: 5, referenced: 4, kept: 1, deleted: 0 });
    clock.advance(7200 * 1000);
    const dry = await registry.artifacts.collectGarbage({ graceSeconds: 3600, dryRun: true });
    expect(dry.deleted).toBe(1);
    const real = await registry.artifacts.collectGarbage({ graceSeconds: 3600 });
    expect(real.deleted).toBe(dry.deleted);
    await expectCode(registry.artifacts.read(orphan.digest), "ARTIFACT_NOT_FOUND");
    // Everything still referenced (two versions, a run artifact, a dataset) survives and verifies.
    const versions = await registry.versions.search(P, { limit: 1000 });
    expect(versions.items).toHaveLength(2);
    for (const v of versions.items) {
      expect((await registry.artifacts.read(v.artifact.digest as `sha256:${string}`)).length).toBe(
        v.artifact.size,
      );
    }
    expect(Buffer.from(await registry.artifacts.read(plot.digest)).toString()).toBe("plot");
    expect((await registry.artifacts.read(data.digest)).length).toBe(8);
  });
});
