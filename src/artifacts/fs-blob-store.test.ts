import { mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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
