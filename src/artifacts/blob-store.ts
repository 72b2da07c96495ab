import { createHash } from "node:crypto";
import { SkalaError, validationError } from "../core/index.js";

/**
 * A content address: `sha256:` followed by 64 lowercase hex characters.
 * The type only documents intent; values from outside (HTTP, database rows) go through `parseDigest`.
 */
export type Digest = `sha256:${string}`;

const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export function isDigest(input: unknown): input is Digest {
  return typeof input === "string" && DIGEST_PATTERN.test(input);
}

/**
 * Validates a digest. Strict on purpose: adapters build storage keys from it, so anything looser
 * (upper case, other algorithms, path characters) would give one blob two addresses or escape the store.
 *
 * @example
 * const digest = parseDigest(request.params.digest, "/params/digest");
 */
export function parseDigest(input: string, path = "/"): Digest {
  if (isDigest(input)) return input;
  const shown = typeof input === "string" ? JSON.stringify(input.slice(0, 80)) : typeof input;
  return invalid(path, `invalid digest ${shown}: expected "sha256:" followed by 64 lowercase hex characters`);
}

function invalid(path: string, message: string): never {
  throw validationError([{ path, message }], message);
}

/** The digest of bytes held in memory. */
export function digestOf(bytes: Uint8Array): Digest {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export interface PutOptions {
  /** Largest accepted blob in bytes; a put is aborted as soon as the source passes it. */
  maxBytes: number;
  /** When given, the bytes must hash to it or nothing is stored (the client declared what it sent). */
  expectedDigest?: Digest;
}

export interface PutResult {
  digest: Digest;
  size: number;
  /** False when the blob was already stored (de-duplicated); its modifiedAt was refreshed. */
  created: boolean;
}

export interface BlobInfo {
  size: number;
  modifiedAt: Date;
}

export interface BlobEntry extends BlobInfo {
  digest: Digest;
}

/** What `sweepIncomplete` removed (or, in a dry run, would remove). */
export interface SweepReport {
  files: number;
  bytes: number;
}

/**
 * Content-addressed, immutable blob storage. Adapters (file system, memory, later S3) all pass
 * `describeBlobStoreContract`. Blobs become visible only once complete and verified; reads verify again,
 * so silent corruption surfaces as ARTIFACT_CORRUPT instead of a broken model.
 *
 * Errors: ARTIFACT_NOT_FOUND (read, stream, verify, touch on an absent blob), ARTIFACT_TOO_LARGE,
 * ARTIFACT_DIGEST_MISMATCH, ARTIFACT_CORRUPT, VALIDATION_FAILED (malformed digest or options), and for the
 * storage itself STORAGE_FULL (no space, quota) and SERVICE_UNAVAILABLE (I/O error, read-only, out of handles),
 * with the adapter's own error as the cause.
 *
 * @example
 * const { digest, created } = await blobs.put(uploadStream, { maxBytes: 512 * 1024 * 1024 });
 * const bytes = await blobs.read(digest); // verified against the digest
 * for await (const chunk of await blobs.stream(digest)) reply.raw.write(chunk); // throws at the end if corrupt
 */
export interface BlobStore {
  put(source: AsyncIterable<Uint8Array> | Uint8Array, options: PutOptions): Promise<PutResult>;
  /** The whole blob, verified. */
  read(digest: Digest): Promise<Buffer>;
  /** Not-found is reported by the returned promise; corruption by the iteration, after the last chunk. */
  stream(digest: Digest): Promise<AsyncIterable<Uint8Array>>;
  /** Null when absent. Cheap: does not read the content. */
  stat(digest: Digest): Promise<BlobInfo | null>;
  /** Whether the stored bytes still hash to the digest; throws ARTIFACT_NOT_FOUND when absent. */
  verify(digest: Digest): Promise<boolean>;
  /** False when there was nothing to delete. */
  delete(digest: Digest): Promise<boolean>;
  /** Every stored blob in digest order; blobs still being written are never listed. */
  list(): AsyncIterable<BlobEntry>;
  /** Sets modifiedAt to now, so garbage collection's grace period protects a blob that was just referenced. */
  touch(digest: Digest): Promise<void>;
  /**
   * Removes what uploads that never finished left behind (a crash mid-put) and that was last written before
   * `olderThan`; uploads in progress in this process are never touched, whatever their age.
   */
  sweepIncomplete(options: { olderThan: Date; dryRun?: boolean }): Promise<SweepReport>;
}

/**
 * Stores a value as its JSON text (`JSON.stringify`, UTF-8), so equal values written the same way share a blob.
 *
 * @example
 * const { digest } = await putJson(blobs, card, { maxBytes: 1_000_000 });
 */
export async function putJson(store: BlobStore, value: unknown, options: PutOptions): Promise<PutResult> {
  const text = JSON.stringify(value);
  if (text === undefined) return invalid("/", "the value has no JSON representation");
  return store.put(Buffer.from(text, "utf8"), options);
}

/** Reads a blob written by `putJson`; a blob that is not JSON fails validation rather than returning garbage. */
export async function readJson(store: BlobStore, digest: Digest): Promise<unknown> {
  const bytes = await store.read(digest);
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new SkalaError(
      "VALIDATION_FAILED",
      `blob ${digest} is not valid JSON`,
      { digest },
      { cause: error },
    );
  }
}
