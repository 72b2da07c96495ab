// The one test suite every BlobStore adapter must pass; adapter tests call describeBlobStoreContract.
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clock, manualClock } from "../core/index.js";
import type { BlobEntry, BlobStore, Digest } from "./blob-store.js";

export interface BlobStoreHarness {
  store: BlobStore;
  /** Temporary files the adapter keeps outside the store; every finished put, failed or not, must leave none. */
  leftovers(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export type BlobStoreFactory = (clock: Clock) => Promise<BlobStoreHarness>;

const sha256 = (bytes: Uint8Array): Digest => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const ABSENT: Digest = `sha256:${"0".repeat(64)}`;

async function* chunked(chunkCount: number, chunkSize: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < chunkCount; i++) {
    yield Buffer.alloc(chunkSize, i % 251);
    // Let other work interleave, as a network upload would.
    if (i % 64 === 0) await Promise.resolve();
  }
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export function describeBlobStoreContract(name: string, factory: BlobStoreFactory): void {
  describe(`BlobStore contract: ${name}`, () => {
    let harness: BlobStoreHarness;
    let store: BlobStore;
    let clock: ReturnType<typeof manualClock>;

    beforeEach(async () => {
      clock = manualClock();
      harness = await factory(clock);
      store = harness.store;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    async function expectNothingStored(): Promise<void> {
      expect(await collect(store.list())).toEqual([]);
      expect(await harness.leftovers()).toEqual([]);
    }

    it("round-trips bytes through put, read and stream", async () => {
      const bytes = Buffer.from("hello, skala");
      const put = await store.put(bytes, { maxBytes: 1024 });
      expect(put).toEqual({ digest: sha256(bytes), size: bytes.byteLength, created: true });
      expect(await store.read(put.digest)).toEqual(bytes);
      expect(Buffer.concat(await collect(await store.stream(put.digest)))).toEqual(bytes);
      expect(await store.stat(put.digest)).toEqual({ size: bytes.byteLength, modifiedAt: clock.now() });
      expect(await harness.leftovers()).toEqual([]);
    });

    it("addresses blobs by the sha256 of their bytes", async () => {
      const abc = await store.put(Buffer.from("abc"), { maxBytes: 3 });
      expect(abc.digest).toBe("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
      const empty = await store.put(new Uint8Array(0), { maxBytes: 0 });
      expect(empty).toEqual({
        digest: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        size: 0,
        created: true,
      });
      expect(await store.read(empty.digest)).toEqual(Buffer.alloc(0));
    });

    it("keeps its own copy of the bytes", async () => {
      const bytes = Buffer.from("mutable");
      const { digest } = await store.put(bytes, { maxBytes: 100 });
      bytes.fill(0);
      expect((await store.read(digest)).toString()).toBe("mutable");
    });

    it("de-duplicates equal content and refreshes its modifiedAt", async () => {
      const first = await store.put(Buffer.from("same"), { maxBytes: 100 });
      clock.advance(60_000);
      const second = await store.put(Buffer.from("same"), { maxBytes: 100 });
      expect(first.created).toBe(true);
      expect(second).toEqual({ ...first, created: false });
      const listed = await collect(store.list());
      expect(listed).toEqual([{ digest: first.digest, size: 4, modifiedAt: clock.now() }]);
      expect(await harness.leftovers()).toEqual([]);
    });

    it("stores one blob when many puts of the same content race", async () => {
      const bytes = Buffer.alloc(4096, 7);
      const results = await Promise.all(
        Array.from({ length: 50 }, () => store.put(Buffer.from(bytes), { maxBytes: 4096 })),
      );
      expect(new Set(results.map((r) => r.digest))).toEqual(new Set([sha256(bytes)]));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(await collect(store.list())).toHaveLength(1);
      expect(await store.read(sha256(bytes))).toEqual(bytes);
      expect(await harness.leftovers()).toEqual([]);
    });

    it("accepts exactly maxBytes and rejects one byte more, leaving nothing behind", async () => {
      await expect(store.put(Buffer.alloc(1001, 1), { maxBytes: 1000 })).rejects.toMatchObject({
        code: "ARTIFACT_TOO_LARGE",
        details: { maxBytes: 1000 },
      });
      await expect(store.put(chunked(11, 91), { maxBytes: 1000 })).rejects.toMatchObject({
        code: "ARTIFACT_TOO_LARGE",
      });
      await expectNothingStored();

      expect(await store.put(Buffer.alloc(1000, 1), { maxBytes: 1000 })).toMatchObject({ size: 1000 });
      expect(await store.put(chunked(10, 100), { maxBytes: 1000 })).toMatchObject({ size: 1000 });
      expect(await harness.leftovers()).toEqual([]);
    });

    it("stops reading an oversized source as soon as it passes the limit", async () => {
      let pulled = 0;
      let closed = false;
      async function* endless(): AsyncGenerator<Uint8Array> {
        try {
          for (;;) {
            pulled++;
            yield Buffer.alloc(100);
          }
        } finally {
          closed = true;
        }
      }
      await expect(store.put(endless(), { maxBytes: 250 })).rejects.toMatchObject({
        code: "ARTIFACT_TOO_LARGE",
      });
      expect(pulled).toBe(3);
      expect(closed).toBe(true);
      await expectNothingStored();
    });

    it("rejects bytes that do not hash to the expected digest and stores nothing", async () => {
      const bytes = Buffer.from("declared one thing");
      const expected = sha256(Buffer.from("sent another"));
      await expect(store.put(bytes, { maxBytes: 100, expectedDigest: expected })).rejects.toMatchObject({
        code: "ARTIFACT_DIGEST_MISMATCH",
        details: { expected, actual: sha256(bytes) },
      });
      await expectNothingStored();
      expect(await store.put(bytes, { maxBytes: 100, expectedDigest: sha256(bytes) })).toMatchObject({
        created: true,
      });
    });

    it("streams a put from an async generator of many chunks", async () => {
      const { digest, size, created } = await store.put(chunked(1000, 1024), { maxBytes: 1024 * 1024 });
      const expected = Buffer.concat(await collect(chunked(1000, 1024)));
      expect({ digest, size, created }).toEqual({
        digest: sha256(expected),
        size: expected.byteLength,
        created: true,
      });
      expect((await store.read(digest)).equals(expected)).toBe(true);
      expect(Buffer.concat(await collect(await store.stream(digest))).equals(expected)).toBe(true);
      expect(await harness.leftovers()).toEqual([]);
    });

    it("stores nothing when the source fails part way", async () => {
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield Buffer.from("partial");
        throw new Error("connection reset");
      }
      await expect(store.put(failing(), { maxBytes: 100 })).rejects.toThrow("connection reset");
      await expectNothingStored();
    });

    it("reports absent blobs", async () => {
      const calls = [() => store.read(ABSENT), () => store.stream(ABSENT), () => store.verify(ABSENT)];
      for (const call of [...calls, () => store.touch(ABSENT)]) {
        await expect(call()).rejects.toMatchObject({
          code: "ARTIFACT_NOT_FOUND",
          details: { digest: ABSENT },
        });
      }
      expect(await store.stat(ABSENT)).toBeNull();
      expect(await store.delete(ABSENT)).toBe(false);
    });

    it("deletes blobs, after which they can be stored again", async () => {
      const { digest } = await store.put(Buffer.from("short-lived"), { maxBytes: 100 });
      expect(await store.delete(digest)).toBe(true);
      expect(await store.delete(digest)).toBe(false);
      expect(await store.stat(digest)).toBeNull();
      await expect(store.read(digest)).rejects.toMatchObject({ code: "ARTIFACT_NOT_FOUND" });
      expect(await collect(store.list())).toEqual([]);
      expect(await store.put(Buffer.from("short-lived"), { maxBytes: 100 })).toMatchObject({ created: true });
    });

    it("lists every blob in digest order with its size and modifiedAt", async () => {
      expect(await collect(store.list())).toEqual([]);
      const expected: BlobEntry[] = [];
      for (const text of ["one", "two", "three"]) {
        const { digest, size } = await store.put(Buffer.from(text), { maxBytes: 100 });
        expected.push({ digest, size, modifiedAt: clock.now() });
        clock.advance(1000);
      }
      expected.sort((a, b) => (a.digest < b.digest ? -1 : 1));
      expect(await collect(store.list())).toEqual(expected);
    });

    it("touch refreshes modifiedAt", async () => {
      const { digest } = await store.put(Buffer.from("keep me"), { maxBytes: 100 });
      const before = await store.stat(digest);
      clock.advance(3_600_000);
      await store.touch(digest);
      const after = await store.stat(digest);
      expect(after).toEqual({ size: 7, modifiedAt: clock.now() });
      expect(after?.modifiedAt.getTime()).toBeGreaterThan(
        before?.modifiedAt.getTime() ?? Number.POSITIVE_INFINITY,
      );
    });

    it("verifies intact blobs", async () => {
      const { digest } = await store.put(chunked(10, 1000), { maxBytes: 10_000 });
      expect(await store.verify(digest)).toBe(true);
    });

    it("never sweeps an upload in progress or a stored blob", async () => {
      const kept = await store.put(Buffer.from("stored"), { maxBytes: 100 });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let reachedGate!: () => void;
      const atGate = new Promise<void>((resolve) => {
        reachedGate = resolve;
      });
      async function* slowUpload(): AsyncGenerator<Uint8Array> {
        yield Buffer.from("first half, ");
        reachedGate();
        await gate;
        yield Buffer.from("second half");
      }
      const uploading = store.put(slowUpload(), { maxBytes: 100 });
      await atGate;
      // Everything on disk counts as old: only the store's own knowledge of what is in flight protects it.
      const farFuture = new Date(Date.now() + 365 * 86_400_000);
      expect(await store.sweepIncomplete({ olderThan: farFuture })).toEqual({ files: 0, bytes: 0 });
      release();
      const uploaded = await uploading;
      expect((await store.read(uploaded.digest)).toString()).toBe("first half, second half");
      expect((await store.read(kept.digest)).toString()).toBe("stored");
      expect(await store.sweepIncomplete({ olderThan: farFuture })).toEqual({ files: 0, bytes: 0 });
      expect(await harness.leftovers()).toEqual([]);
    });

    it("rejects malformed digests and options before touching storage", async () => {
      const bad = ["sha256:../../../etc/passwd", `sha256:${"A".repeat(64)}`, "md5:abc", ""] as Digest[];
      for (const digest of bad) {
        await expect(store.read(digest)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
        await expect(store.stat(digest)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
        await expect(store.delete(digest)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      }
      for (const maxBytes of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(store.put(Buffer.from("x"), { maxBytes })).rejects.toMatchObject({
          code: "VALIDATION_FAILED",
        });
      }
      await expect(
        store.put(Buffer.from("x"), { maxBytes: 10, expectedDigest: "sha256:nope" as Digest }),
      ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      await expectNothingStored();
    });
  });
}
