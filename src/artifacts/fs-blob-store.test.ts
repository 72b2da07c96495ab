import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, open, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { mountTinyFs } from "../core/test-support/tiny-fs.js";
import { type BlobStore, type Digest, digestOf } from "./blob-store.js";
import { createFsBlobStore } from "./fs-blob-store.js";

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("createFsBlobStore", () => {
  let root: string;
  let store: BlobStore;
  const blobPath = (digest: Digest) => {
    const hex = digest.slice("sha256:".length);
    return join(root, "sha256", hex.slice(0, 2), hex.slice(2, 4), hex);
  };
  const tmpFiles = () => readdir(join(root, "tmp")).catch(() => []);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "skala-fs-blobs-"));
    store = createFsBlobStore(root);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("lays blobs out as sha256/<2 hex>/<2 hex>/<hex>", async () => {
    const bytes = Buffer.from("layout");
    const { digest } = await store.put(bytes, { maxBytes: 100 });
    expect((await stat(blobPath(digest))).size).toBe(bytes.byteLength);
  });

  it("detects a flipped byte on read, stream and verify", async () => {
    const { digest } = await store.put(Buffer.alloc(10_000, 42), { maxBytes: 10_000 });
    const file = await open(blobPath(digest), "r+");
    await file.write(Buffer.from([43]), 0, 1, 5_000);
    await file.close();

    await expect(store.read(digest)).rejects.toMatchObject({ code: "ARTIFACT_CORRUPT", details: { digest } });
    await expect(collect(await store.stream(digest))).rejects.toMatchObject({ code: "ARTIFACT_CORRUPT" });
    expect(await store.verify(digest)).toBe(false);
  });

  it("ignores leftover temp files and stray names when listing", async () => {
    const { digest } = await store.put(Buffer.from("real"), { maxBytes: 100 });
    const stale = Buffer.from("crashed upload");
    const staleHex = digestOf(stale).slice("sha256:".length);
    await mkdir(join(root, "tmp"), { recursive: true });
    await writeFile(join(root, "tmp", "0b1c.tmp"), stale);
    await writeFile(join(root, "tmp", staleHex), stale);
    await writeFile(join(root, "sha256", "README"), "not a blob");

    expect((await collect(store.list())).map((entry) => entry.digest)).toEqual([digest]);
    expect(await store.stat(digestOf(stale))).toBeNull();
  });

  it("keeps one file when 50 puts of the same content race", async () => {
    const bytes = Buffer.alloc(64 * 1024, 9);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => store.put(bytes, { maxBytes: bytes.length })),
    );
    const digest = digestOf(bytes);
    expect(results.every((r) => r.digest === digest)).toBe(true);
    const hex = digest.slice("sha256:".length);
    expect(await readdir(join(root, "sha256", hex.slice(0, 2), hex.slice(2, 4)))).toEqual([hex]);
    expect(await tmpFiles()).toEqual([]);
    expect(await store.verify(digest)).toBe(true);
  });

  it("never shows a partial upload under its final name", async () => {
    const first = Buffer.alloc(1000, 1);
    const whole = Buffer.concat([first, Buffer.alloc(1000, 2)]);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reachedGate!: () => void;
    const atGate = new Promise<void>((resolve) => {
      reachedGate = resolve;
    });
    async function* upload(): AsyncGenerator<Uint8Array> {
      yield first;
      reachedGate();
      await gate;
      throw new Error("client went away");
    }

    const pending = store.put(upload(), { maxBytes: 10_000 });
    await atGate;
    // Mid-upload: bytes exist only in tmp/, invisible to every read path.
    expect(await tmpFiles()).toHaveLength(1);
    expect(await collect(store.list())).toEqual([]);
    expect(await store.stat(digestOf(first))).toBeNull();
    expect(await store.stat(digestOf(whole))).toBeNull();

    release();
    await expect(pending).rejects.toThrow("client went away");
    expect(await tmpFiles()).toEqual([]);
    expect(await collect(store.list())).toEqual([]);
    await expect(stat(blobPath(digestOf(first)))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("createFsBlobStore: temporary files crashed uploads left behind", () => {
  let root: string;
  let store: BlobStore;
  const now = Date.now();
  const hourAgo = new Date(now - 3_600_000);
  const orphan = async (name: string, bytes: number, mtime: Date) => {
    await mkdir(join(root, "tmp"), { recursive: true });
    await writeFile(join(root, "tmp", name), Buffer.alloc(bytes, 1));
    await utimes(join(root, "tmp", name), mtime, mtime);
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "skala-fs-sweep-"));
    store = createFsBlobStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it("sweeps .tmp files older than the cutoff and keeps fresh ones and stored blobs", async () => {
    const { digest } = await store.put(Buffer.from("a real blob"), { maxBytes: 100 });
    await orphan("0f1e2d3c-crashed-1.tmp", 1000, new Date(now - 2 * 3_600_000));
    await orphan("0f1e2d3c-crashed-2.tmp", 500, new Date(now - 3 * 86_400_000));
    await orphan("0f1e2d3c-fresh.tmp", 70, new Date(now - 60_000));
    await orphan("not-ours.txt", 10, new Date(now - 3 * 86_400_000));

    expect(await store.sweepIncomplete({ olderThan: hourAgo, dryRun: true })).toEqual({
      files: 2,
      bytes: 1500,
    });
    expect((await readdir(join(root, "tmp"))).length).toBe(4);

    expect(await store.sweepIncomplete({ olderThan: hourAgo })).toEqual({ files: 2, bytes: 1500 });
    expect((await readdir(join(root, "tmp"))).sort()).toEqual(["0f1e2d3c-fresh.tmp", "not-ours.txt"]);
    expect(await store.verify(digest)).toBe(true);
    expect(await store.sweepIncomplete({ olderThan: hourAgo })).toEqual({ files: 0, bytes: 0 });
  });

  it("sweeps nothing when no upload ever ran", async () => {
    expect(await store.sweepIncomplete({ olderThan: new Date(now + 1) })).toEqual({ files: 0, bytes: 0 });
  });

  it("sweeps 10,000 orphans of a crashed bulk upload in one pass", async () => {
    const old = new Date(now - 2 * 3_600_000);
    for (let i = 0; i < 10_000; i++) await orphan(`${String(i).padStart(8, "0")}.tmp`, 0, old);
    expect(await store.sweepIncomplete({ olderThan: hourAgo })).toEqual({ files: 10_000, bytes: 0 });
    expect(await readdir(join(root, "tmp"))).toEqual([]);
  });
});

describe("createFsBlobStore on a tiny file system", () => {
  const tiny = mountTinyFs(1 << 20);
  const skip = typeof tiny === "string" ? ` (skipped: ${tiny})` : "";
  afterAll(() => {
    if (typeof tiny !== "string") tiny.unmount();
  });
  const root = () => join((tiny as { dir: string }).dir, "artifacts");

  it.skipIf(typeof tiny === "string")(
    `answers a full disk with STORAGE_FULL and leaves nothing${skip}`,
    async () => {
      const store = createFsBlobStore(root());
      const error = await store.put(Buffer.alloc(2 << 20, 7), { maxBytes: 4 << 20 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: "SkalaError", code: "STORAGE_FULL", cause: { code: "ENOSPC" } });
      expect((error as Error).message).not.toContain(root());
      expect(await readdir(join(root(), "tmp"))).toEqual([]);
      expect(await store.sweepIncomplete({ olderThan: new Date(Date.now() + 60_000) })).toEqual({
        files: 0,
        bytes: 0,
      });
      // The space the failed upload took is free again: a small blob still fits.
      const { digest } = await store.put(Buffer.alloc(100_000, 1), { maxBytes: 4 << 20 });
      expect(await store.verify(digest)).toBe(true);
      await store.delete(digest);
    },
  );

  it.skipIf(typeof tiny === "string")(
    `answers a read-only file system with SERVICE_UNAVAILABLE${skip}`,
    async () => {
      const { dir } = tiny as { dir: string };
      const store = createFsBlobStore(root());
      const { digest } = await store.put(Buffer.from("written before"), { maxBytes: 100 });
      execFileSync("mount", ["-o", "remount,ro", dir]);
      try {
        await expect(store.put(Buffer.from("after"), { maxBytes: 100 })).rejects.toMatchObject({
          code: "SERVICE_UNAVAILABLE",
          cause: { code: "EROFS" },
        });
        expect((await store.read(digest)).toString()).toBe("written before");
      } finally {
        execFileSync("mount", ["-o", "remount,rw", dir]);
      }
    },
  );
});
