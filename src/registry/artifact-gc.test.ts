import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFsBlobStore } from "../artifacts/index.js";
import { manualClock } from "../core/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { createRegistry, type Registry } from "./index.js";

describe.each(testDialects())("skala gc on the file-system blob store, %s", (dialect) => {
  let registry: Registry;
  let root: string;
  let dispose: () => Promise<void>;
  const clock = manualClock();

  beforeAll(async () => {
    const fresh = await freshStore(dialect);
    root = await mkdtemp(join(tmpdir(), "skala-gc-"));
    registry = createRegistry({
      store: fresh.store,
      blobs: createFsBlobStore(root, { clock }),
      clock,
      limits: { bulkMaxVersions: 50, pageSizeMax: 1000, artifactMaxBytes: 1 << 20 },
    });
    dispose = async () => {
      await fresh.dispose();
      await rm(root, { recursive: true, force: true });
    };
  });
  afterAll(() => dispose());

  it("sweeps crash-orphaned temporary files past the grace period, reports them and honours --dry-run", async () => {
    const tmp = join(root, "tmp");
    await mkdir(tmp, { recursive: true });
    const at = (msAgo: number) => new Date(clock.now().getTime() - msAgo);
    for (const [name, bytes, age] of [
      ["crashed-a.tmp", 40_000, 2 * 3_600_000],
      ["crashed-b.tmp", 2_000, 26 * 3_600_000],
      ["uploading.tmp", 500, 60_000],
    ] as const) {
      await writeFile(join(tmp, name), Buffer.alloc(bytes));
      await utimes(join(tmp, name), at(age), at(age));
    }
    const young = await registry.artifacts.upload(Buffer.from("kept")); // unreferenced, within the grace period

    const dry = await registry.artifacts.collectGarbage({ graceSeconds: 3600, dryRun: true });
    expect(dry).toMatchObject({ tmpFilesSwept: 2, tmpBytesSwept: 42_000, dryRun: true });
    expect((await readdir(tmp)).sort()).toEqual(["crashed-a.tmp", "crashed-b.tmp", "uploading.tmp"]);

    const real = await registry.artifacts.collectGarbage({ graceSeconds: 3600 });
    expect(real).toMatchObject({ tmpFilesSwept: 2, tmpBytesSwept: 42_000, dryRun: false });
    expect(await readdir(tmp)).toEqual(["uploading.tmp"]);
    expect((await registry.artifacts.read(young.digest)).toString()).toBe("kept");
  });
});
