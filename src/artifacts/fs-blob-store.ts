import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { type Clock, systemClock } from "../core/index.js";
import type { BlobEntry, BlobStore, Digest } from "./blob-store.js";
import {
  assertDigest,
  checkPutOptions,
  consumeSource,
  digestMismatch,
  hexOf,
  notFound,
  storageFailure,
  verifyChunks,
} from "./blob-support.js";

const HEX64 = /^[0-9a-f]{64}$/;
const HEX2 = /^[0-9a-f]{2}$/;
const TMP_NAME = /\.tmp$/;
// Where hard links are unavailable (some network and FUSE file systems) we fall back to rename.
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

/**
 * A BlobStore on a local file system.
 *
 * Layout: `<root>/sha256/<hex[0..2]>/<hex[2..4]>/<hex>` for blobs, `<root>/tmp/` for uploads in progress.
 * A blob appears under its final name only after its bytes are hashed, checked and fsynced, so a crash
 * leaves at worst a stale file in `tmp/`, which no read or listing ever sees and `sweepIncomplete` removes.
 * File-system failures of the storage itself (ENOSPC, EDQUOT, EIO, EROFS, EMFILE) leave as STORAGE_FULL or
 * SERVICE_UNAVAILABLE.
 *
 * @example
 * const blobs = createFsBlobStore(join(config.dataDir, "blobs"));
 */
export function createFsBlobStore(rootDir: string, options: { clock?: Clock } = {}): BlobStore {
  const clock = options.clock ?? systemClock;
  const blobsDir = join(rootDir, "sha256");
  const tmpDir = join(rootDir, "tmp");
  const pathOf = (hex: string) => join(blobsDir, hex.slice(0, 2), hex.slice(2, 4), hex);
  /** Temporary files this process is writing: never swept, however long an upload takes. */
  const inFlight = new Set<string>();

  async function writeTemp(
    source: AsyncIterable<Uint8Array> | Uint8Array,
    maxBytes: number,
  ): Promise<{ tmpPath: string; digest: Digest; size: number }> {
    await mkdir(tmpDir, { recursive: true });
    const tmpPath = join(tmpDir, `${randomUUID()}.tmp`);
    let file: FileHandle | undefined;
    inFlight.add(tmpPath);
    try {
      file = await open(tmpPath, "wx");
      const handle = file;
      const { digest, size } = await consumeSource(source, maxBytes, (chunk) => writeAll(handle, chunk));
      // The clock decides modifiedAt (not the OS), so garbage-collection grace periods are testable.
      const now = clock.now();
      await handle.utimes(now, now);
      await handle.sync();
      await handle.close();
      file = undefined;
      return { tmpPath, digest, size };
    } catch (error) {
      await file?.close().catch(() => {});
      await rm(tmpPath, { force: true });
      inFlight.delete(tmpPath);
      throw error;
    }
  }

  /** Moves the temp file to its final name; false when the blob was already there (de-duplicated). */
  async function place(tmpPath: string, finalPath: string): Promise<boolean> {
    const shardDir = dirname(finalPath);
    const firstCreated = await mkdir(shardDir, { recursive: true });
    // Retried because garbage collection may delete the existing blob between our link and our touch.
    for (let attempt = 0; ; attempt++) {
      try {
        // link, unlike rename, refuses to replace an existing file: exactly one concurrent put sees created=true.
        await link(tmpPath, finalPath);
        break;
      } catch (error) {
        const code = errorCode(error);
        if (code === "EEXIST") {
          if (await touchIfPresent(finalPath)) return false;
          if (attempt < 3) continue;
        }
        if (code !== undefined && NO_HARD_LINKS.has(code)) {
          if (await touchIfPresent(finalPath)) return false;
          await rename(tmpPath, finalPath);
          break;
        }
        throw error;
      }
    }
    await fsyncNewEntries(shardDir, firstCreated);
    return true;
  }

  async function touchIfPresent(path: string): Promise<boolean> {
    const now = clock.now();
    try {
      await utimes(path, now, now);
      return true;
    } catch (error) {
      if (errorCode(error) === "ENOENT") return false;
      throw error;
    }
  }

  /** The new directory entries (blob name, and any shard directories just created) must survive a power cut. */
  async function fsyncNewEntries(shardDir: string, firstCreated: string | undefined): Promise<void> {
    const dirs = [shardDir];
    if (firstCreated !== undefined) {
      for (let dir = shardDir; dir !== dirname(firstCreated) && dir !== dirname(dir); dir = dirname(dir)) {
        dirs.push(dirname(dir));
      }
    }
    for (const dir of new Set(dirs)) await fsyncDir(dir);
  }

  async function existing(digest: Digest): Promise<string> {
    const path = pathOf(hexOf(digest));
    try {
      await stat(path);
    } catch (error) {
      throw errorCode(error) === "ENOENT" ? notFound(digest, error) : error;
    }
    return path;
  }

  const store: BlobStore = {
    async put(source, putOptions) {
      const { maxBytes, expectedDigest } = checkPutOptions(putOptions);
      const { tmpPath, digest, size } = await writeTemp(source, maxBytes);
      try {
        if (expectedDigest !== undefined && expectedDigest !== digest)
          throw digestMismatch(expectedDigest, digest);
        const created = await place(tmpPath, pathOf(hexOf(digest)));
        return { digest, size, created };
      } finally {
        await rm(tmpPath, { force: true });
        inFlight.delete(tmpPath);
      }
    },

    async read(digest) {
      let bytes: Buffer;
      try {
        bytes = await readFile(pathOf(hexOf(digest)));
      } catch (error) {
        throw errorCode(error) === "ENOENT" ? notFound(digest, error) : error;
      }
      assertDigest(digest, createHash("sha256").update(bytes).digest("hex"));
      return bytes;
    },

    async stream(digest) {
      // Opened lazily so that a stream nobody iterates holds no file descriptor.
      const path = await existing(digest);
      return verifyChunks(readChunks(path, digest), digest);
    },

    async stat(digest) {
      try {
        const info = await stat(pathOf(hexOf(digest)));
        return { size: info.size, modifiedAt: info.mtime };
      } catch (error) {
        if (errorCode(error) === "ENOENT") return null;
        throw error;
      }
    },

    async verify(digest) {
      const path = await existing(digest);
      const hash = createHash("sha256");
      for await (const chunk of readChunks(path, digest)) hash.update(chunk);
      return `sha256:${hash.digest("hex")}` === digest;
    },

    async delete(digest) {
      // Shard directories stay: removing them would race with a concurrent put that just created them.
      try {
        await rm(pathOf(hexOf(digest)));
        return true;
      } catch (error) {
        if (errorCode(error) === "ENOENT") return false;
        throw error;
      }
    },

    async *list(): AsyncGenerator<BlobEntry> {
      // Only names that fit the layout count; tmp/ lives outside sha256/ and is never walked.
      for (const a of await sortedNames(blobsDir, HEX2)) {
        for (const b of await sortedNames(join(blobsDir, a), HEX2)) {
          for (const hex of await sortedNames(join(blobsDir, a, b), HEX64)) {
            if (!hex.startsWith(a + b)) continue;
            const info = await stat(join(blobsDir, a, b, hex)).catch((error: unknown) => {
              if (errorCode(error) === "ENOENT") return null; // deleted while listing
              throw error;
            });
            if (info?.isFile()) yield { digest: `sha256:${hex}`, size: info.size, modifiedAt: info.mtime };
          }
        }
      }
    },

    async touch(digest) {
      if (!(await touchIfPresent(pathOf(hexOf(digest))))) throw notFound(digest);
    },

    async sweepIncomplete({ olderThan, dryRun = false }) {
      const report = { files: 0, bytes: 0 };
      for (const name of await sortedNames(tmpDir, TMP_NAME)) {
        const path = join(tmpDir, name);
        if (inFlight.has(path)) continue;
        const info = await stat(path).catch(absentAsNull);
        if (!info?.isFile() || info.mtime.getTime() >= olderThan.getTime()) continue;
        if (!dryRun && !(await rm(path).then(() => true, absentAsFalse))) continue;
        report.files++;
        report.bytes += info.size;
      }
      return report;
    },
  };
  return withStorageFailures(store);
}

/** Every method of the adapter, with storage failures (ENOSPC, EIO, …) coded; iterations included. */
function withStorageFailures(store: BlobStore): BlobStore {
  const guard =
    <A extends unknown[], R>(work: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await work(...args);
      } catch (error) {
        throw storageFailure(error);
      }
    };
  async function* guarded<T>(items: AsyncIterable<T>): AsyncGenerator<T> {
    try {
      yield* items;
    } catch (error) {
      throw storageFailure(error);
    }
  }
  return {
    put: guard(store.put),
    read: guard(store.read),
    stream: guard(async (digest: Digest) => guarded(await store.stream(digest))),
    stat: guard(store.stat),
    verify: guard(store.verify),
    delete: guard(store.delete),
    list: () => guarded(store.list()),
    touch: guard(store.touch),
    sweepIncomplete: guard(store.sweepIncomplete),
  };
}

function absentAsNull(error: unknown): null {
  if (errorCode(error) === "ENOENT") return null;
  throw error;
}

function absentAsFalse(error: unknown): false {
  if (errorCode(error) === "ENOENT") return false;
  throw error;
}

async function* readChunks(path: string, digest: Digest): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of createReadStream(path)) yield chunk as Buffer;
  } catch (error) {
    throw errorCode(error) === "ENOENT" ? notFound(digest, error) : error;
  }
}

async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

async function sortedNames(dir: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => pattern.test(name)).sort();
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") return [];
    throw error;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    // Some platforms (Windows) cannot open or sync a directory; the data itself was already synced.
    const code = errorCode(error);
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "ENOTSUP") throw error;
  } finally {
    await handle?.close();
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}
