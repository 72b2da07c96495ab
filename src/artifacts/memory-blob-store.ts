import { createHash } from "node:crypto";
import { type Clock, systemClock } from "../core/index.js";
import type { BlobEntry, BlobStore, Digest } from "./blob-store.js";
import {
  assertDigest,
  checkPutOptions,
  consumeSource,
  digestMismatch,
  hexOf,
  notFound,
  verifyChunks,
} from "./blob-support.js";

interface MemoryBlob {
  bytes: Buffer;
  modifiedAt: Date;
}

/**
 * A BlobStore held in process memory, with the same semantics as the file-system adapter
 * (it passes the same contract suite). For tests and throwaway single-process setups.
 *
 * @example
 * const blobs = createMemoryBlobStore({ clock: manualClock() });
 */
export function createMemoryBlobStore(options: { clock?: Clock } = {}): BlobStore {
  const clock = options.clock ?? systemClock;
  const blobs = new Map<string, MemoryBlob>();

  function get(digest: Digest): MemoryBlob {
    const blob = blobs.get(hexOf(digest));
    if (!blob) throw notFound(digest);
    return blob;
  }

  return {
    async put(source, putOptions) {
      const { maxBytes, expectedDigest } = checkPutOptions(putOptions);
      const parts: Buffer[] = [];
      // Copies, so a caller reusing its buffers cannot change a stored blob.
      const { digest, size } = await consumeSource(source, maxBytes, (chunk) => {
        parts.push(Buffer.from(chunk));
      });
      if (expectedDigest !== undefined && expectedDigest !== digest)
        throw digestMismatch(expectedDigest, digest);
      const hex = hexOf(digest);
      const existing = blobs.get(hex);
      if (existing) {
        existing.modifiedAt = clock.now();
        return { digest, size, created: false };
      }
      blobs.set(hex, { bytes: Buffer.concat(parts, size), modifiedAt: clock.now() });
      return { digest, size, created: true };
    },

    async read(digest) {
      const { bytes } = get(digest);
      assertDigest(digest, createHash("sha256").update(bytes).digest("hex"));
      return Buffer.from(bytes);
    },

    async stream(digest) {
      const { bytes } = get(digest);
      return verifyChunks([Buffer.from(bytes)], digest);
    },

    async stat(digest) {
      const blob = blobs.get(hexOf(digest));
      return blob ? { size: blob.bytes.byteLength, modifiedAt: new Date(blob.modifiedAt) } : null;
    },

    async verify(digest) {
      const { bytes } = get(digest);
      return `sha256:${createHash("sha256").update(bytes).digest("hex")}` === digest;
    },

    async delete(digest) {
      return blobs.delete(hexOf(digest));
    },

    async *list(): AsyncGenerator<BlobEntry> {
      // A snapshot, so deleting while listing (garbage collection does) is safe.
      const entries = [...blobs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [hex, blob] of entries) {
        yield { digest: `sha256:${hex}`, size: blob.bytes.byteLength, modifiedAt: new Date(blob.modifiedAt) };
      }
    },

    async touch(digest) {
      get(digest).modifiedAt = clock.now();
    },

    // A put keeps its bytes on the heap until it completes: a crash leaves nothing behind to sweep.
    sweepIncomplete: async () => ({ files: 0, bytes: 0 }),
  };
}
