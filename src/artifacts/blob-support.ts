// Shared by the BlobStore adapters so that their semantics (limits, errors, verification) cannot drift apart.
import { createHash } from "node:crypto";
import { SkalaError, validationError } from "../core/index.js";
import { type Digest, type PutOptions, parseDigest } from "./blob-store.js";

export function hexOf(digest: Digest): string {
  return parseDigest(digest, "/digest").slice("sha256:".length);
}

export function checkPutOptions(options: PutOptions): {
  maxBytes: number;
  expectedDigest: Digest | undefined;
} {
  const { maxBytes, expectedDigest } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    const message = `maxBytes must be a non-negative integer, got ${String(maxBytes)}`;
    throw validationError([{ path: "/maxBytes", message }], message);
  }
  return {
    maxBytes,
    expectedDigest: expectedDigest === undefined ? undefined : parseDigest(expectedDigest, "/expectedDigest"),
  };
}

/**
 * Pulls the source through the size limit and the hash, handing each accepted chunk to `accept`.
 * Throwing out of the loop calls the source's `return()`, so an oversized upload stops being read at once.
 */
export async function consumeSource(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  maxBytes: number,
  accept: (chunk: Uint8Array) => Promise<void> | void,
): Promise<{ digest: Digest; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const chunks: AsyncIterable<Uint8Array> | Uint8Array[] = source instanceof Uint8Array ? [source] : source;
  for await (const chunk of chunks) {
    if (!(chunk instanceof Uint8Array)) {
      const message = "a blob source must yield Uint8Array chunks";
      throw validationError([{ path: "/source", message }], message);
    }
    if (size + chunk.byteLength > maxBytes) throw tooLarge(maxBytes);
    size += chunk.byteLength;
    hash.update(chunk);
    await accept(chunk);
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

/** Passes chunks through and fails after the last one if they do not hash to `digest`. */
export async function* verifyChunks(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  digest: Digest,
): AsyncGenerator<Uint8Array> {
  const hash = createHash("sha256");
  for await (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
  assertDigest(digest, hash.digest("hex"));
}

export function assertDigest(digest: Digest, actualHex: string): void {
  const actual: Digest = `sha256:${actualHex}`;
  if (actual !== digest) {
    throw new SkalaError("ARTIFACT_CORRUPT", `stored blob ${digest} no longer matches its digest`, {
      digest,
      actual,
    });
  }
}

export function tooLarge(maxBytes: number): SkalaError {
  return new SkalaError("ARTIFACT_TOO_LARGE", `the artifact exceeds the limit of ${maxBytes} bytes`, {
    maxBytes,
  });
}

export function digestMismatch(expected: Digest, actual: Digest): SkalaError {
  return new SkalaError("ARTIFACT_DIGEST_MISMATCH", `the uploaded bytes hash to ${actual}, not ${expected}`, {
    expected,
    actual,
  });
}

export function notFound(digest: Digest, cause?: unknown): SkalaError {
  return new SkalaError("ARTIFACT_NOT_FOUND", `no blob ${digest} is stored`, { digest }, { cause });
}

const FULL = new Set(["ENOSPC", "EDQUOT"]);
const UNAVAILABLE = new Set(["EIO", "EROFS", "EMFILE", "ENFILE"]);

/**
 * A file-system failure of the storage itself (no space, read-only, I/O error, out of file handles) as a coded
 * SkalaError with the original as its cause; any other error unchanged. Messages never carry paths.
 */
export function storageFailure(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || error instanceof SkalaError) return error;
  if (FULL.has(code))
    return new SkalaError(
      "STORAGE_FULL",
      "the artifact storage has no space left (disk full or quota reached); nothing was stored",
      undefined,
      { cause: error },
    );
  if (UNAVAILABLE.has(code))
    return new SkalaError(
      "SERVICE_UNAVAILABLE",
      "the artifact storage failed an I/O operation (read-only, I/O error or out of file handles); retry later",
      undefined,
      { cause: error },
    );
  return error;
}
