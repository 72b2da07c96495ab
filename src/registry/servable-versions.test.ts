import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryBlobStore } from "../artifacts/index.js";
import { err, manualClock, ok, SkalaError } from "../core/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { type ArtifactCandidate, type ArtifactValidator, createRegistry, type Registry } from "./index.js";

/**
 * The registry's two serving-facing rules, on every dialect: which version answers a request that names none
 * (`champion`, else the latest `ready` one), and the artifact check that refuses versions that could never
 * load before anything is written.
 */

const json = (value: unknown) => ({ json: value });

/** A validator over a toy rule set: runtime "toy" only, whose artifacts must not start with "bad". */
const toyValidator: ArtifactValidator = async ({ runtime, read }: ArtifactCandidate) => {
  if (runtime !== "toy") return err({ field: "runtime", message: `runtime "${runtime}" is unknown` });
  const text = Buffer.from(await read()).toString("utf8");
  return text.startsWith('"bad') ? err({ field: "artifact", message: `broken: ${text}` }) : ok(undefined);
};

describe.each(testDialects())("serving-facing registry rules on %s", (dialect) => {
  let registry: Registry;
  let dispose: () => Promise<void>;
  const checked: string[] = [];
  const P = "serve";

  beforeAll(async () => {
    const fresh = await freshStore(dialect);
    dispose = fresh.dispose;
    registry = createRegistry({
      store: fresh.store,
      blobs: createMemoryBlobStore(),
      clock: manualClock(),
      limits: { bulkMaxVersions: 100, pageSizeMax: 1000, artifactMaxBytes: 1 << 20 },
      artifactValidator: async (candidate) => {
        checked.push(candidate.runtime);
        return toyValidator(candidate);
      },
    });
    await registry.projects.create({ name: P });
    await registry.versions.bulkRegister(P, {
      versions: [
        { model: "a", runtime: "toy", artifact: json("a1") },
        { model: "a", runtime: "toy", artifact: json("a2") },
        { model: "a", runtime: "toy", artifact: json("a3"), status: "flagged" },
        { model: "a", runtime: "toy", artifact: json("a4"), status: "failed" },
        { model: "b", runtime: "toy", artifact: json("b1"), status: "flagged" },
        { model: "c", runtime: "toy", artifact: json("c1") },
        { model: "c", runtime: "toy", artifact: json("c2"), status: "flagged", aliases: ["champion"] },
      ],
    });
    await registry.models.create(P, { name: "empty" });
  });
  afterAll(() => dispose());

  it("answers no-version requests with champion, else the latest ready version, in one query", async () => {
    expect((await registry.versions.locate(P, "a", undefined, "champion"))?.version).toBe(2);
    expect((await registry.versions.defaultVersion(P, "a", "champion")).version).toBe(2);
    // An alias is a person's choice: it answers whatever the version's status.
    expect((await registry.versions.locate(P, "c", undefined, "champion"))?.version).toBe(2);
    expect((await registry.versions.defaultVersion(P, "c", "champion")).status).toBe("flagged");
    // Addressed by number, a flagged version is found.
    expect((await registry.versions.locate(P, "a", 3, "champion"))?.status).toBe("flagged");
    expect(await registry.versions.locate(P, "b", undefined, "champion")).toBeUndefined();
  });

  it("says why a model has no version to serve by default", async () => {
    const refused = await registry.versions.defaultVersion(P, "b", "champion").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SkalaError);
    expect(refused).toMatchObject({
      code: "VERSION_NOT_FOUND",
      message: expect.stringMatching(/no version is ready \(the latest, version 1, is flagged\)/),
      details: { latestVersion: 1, latestStatus: "flagged" },
    });
    await expect(registry.versions.defaultVersion(P, "empty", "champion")).rejects.toMatchObject({
      code: "VERSION_NOT_FOUND",
      message: expect.stringMatching(/has no versions/),
    });
    await expect(registry.versions.defaultVersion(P, "nope", "champion")).rejects.toMatchObject({
      code: "MODEL_NOT_FOUND",
    });
  });

  it("refuses a registration with any unloadable version, listing each with its path, and writes nothing", async () => {
    const before = (await registry.models.list(P)).items.length;
    const refused = await registry.versions
      .bulkRegister(P, {
        versions: [
          { model: "new-1", runtime: "toy", artifact: json("fine") },
          { model: "new-2", runtime: "onnx", artifact: json("fine") },
          { model: "new-1", runtime: "toy", artifact: json("bad bytes") },
        ],
      })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: "VERSION_UNLOADABLE",
      details: {
        issues: [
          { path: "/versions/1/runtime", message: 'runtime "onnx" is unknown' },
          { path: "/versions/2/artifact", message: 'broken: "bad bytes"' },
        ],
      },
    });
    expect((await registry.models.list(P)).items.length).toBe(before);
    await expect(
      registry.versions.create(P, "a", { runtime: "toy", artifact: json("bad one") }),
    ).rejects.toMatchObject({ code: "VERSION_UNLOADABLE", details: { issues: [{ path: "/artifact" }] } });
    expect((await registry.models.get(P, "a")).latestVersion).toBe(4);
  });

  it("checks an uploaded blob registered many times once, and a missing one fails as before", async () => {
    const uploaded = await registry.artifacts.upload(Buffer.from('"shared"'));
    checked.length = 0;
    await registry.versions.bulkRegister(P, {
      versions: Array.from({ length: 5 }, () => ({
        model: "shared",
        runtime: "toy",
        artifact: { digest: uploaded.digest },
      })),
    });
    expect(checked).toEqual(["toy"]);
    await expect(
      registry.versions.create(P, "shared", {
        runtime: "toy",
        artifact: { digest: `sha256:${"0".repeat(64)}` },
      }),
    ).rejects.toMatchObject({ code: "ARTIFACT_NOT_FOUND" });
  });
});
