import type { BlobStore, Digest, SweepReport } from "../artifacts/index.js";
import { type Clock, SkalaError } from "../core/index.js";
import type { Executor } from "../store/index.js";

export interface GcReport {
  scanned: number;
  referenced: number;
  /** Unreferenced but younger than the grace period (an upload may be about to be registered). */
  kept: number;
  deleted: number;
  freedBytes: number;
  /** Temporary files of uploads that never finished (a crash mid-upload), older than the grace period. */
  tmpFilesSwept: number;
  tmpBytesSwept: number;
  dryRun: boolean;
}

/**
 * Owns the link between blob bytes and the metadata store: every stored blob gets a `blobs` row, which
 * versions, run artifacts and dataset versions reference by foreign key. That key is what makes
 * garbage collection safe against a concurrent registration (see `collectGarbage`).
 */
export class ArtifactService {
  constructor(
    private readonly db: Executor,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
    private readonly maxBytes: number,
  ) {}

  /** Stores the bytes, then records the blob through `db` (a caller's transaction may hold the reference). */
  async upload(
    source: AsyncIterable<Uint8Array> | Uint8Array,
    expectedDigest?: Digest,
    db: Executor = this.db,
  ): Promise<{ digest: Digest; size: number; created: boolean }> {
    const stored = await this.blobs.put(source, {
      maxBytes: this.maxBytes,
      ...(expectedDigest && { expectedDigest }),
    });
    await this.record(stored.digest, stored.size, db);
    return stored;
  }

  /** Writes bytes to the blob store without recording them; the caller records them in its own transaction. */
  store(bytes: Uint8Array): Promise<{ digest: Digest; size: number; created: boolean }> {
    return this.blobs.put(bytes, { maxBytes: this.maxBytes });
  }

  async recordMany(
    blobs: ReadonlyArray<{ digest: string; size: number }>,
    db: Executor = this.db,
  ): Promise<void> {
    const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()];
    const createdAt = this.clock.now().toISOString();
    for (let start = 0; start < unique.length; start += 2_000) {
      await db
        .insertInto("blobs")
        .values(
          unique
            .slice(start, start + 2_000)
            .map((b) => ({ digest: b.digest, size: b.size, created_at: createdAt })),
        )
        .onConflict((oc) => oc.column("digest").doNothing())
        .execute();
    }
  }

  /** Sizes of recorded blobs; ARTIFACT_NOT_FOUND names the first digest that was never uploaded. */
  async sizesOf(digests: readonly string[], db: Executor = this.db): Promise<Map<string, number>> {
    const wanted = [...new Set(digests)];
    const sizes = new Map<string, number>();
    for (let start = 0; start < wanted.length; start += 2_000) {
      const rows = await db
        .selectFrom("blobs")
        .select(["digest", "size"])
        .where("digest", "in", wanted.slice(start, start + 2_000))
        .execute();
      for (const row of rows) sizes.set(row.digest, row.size);
    }
    const missing = wanted.find((digest) => !sizes.has(digest));
    if (missing)
      throw new SkalaError("ARTIFACT_NOT_FOUND", `no artifact with digest ${missing} was uploaded`, {
        digest: missing,
      });
    return sizes;
  }

  async record(digest: string, size: number, db: Executor = this.db): Promise<void> {
    await db
      .insertInto("blobs")
      .values({ digest, size, created_at: this.clock.now().toISOString() })
      .onConflict((oc) => oc.column("digest").doNothing())
      .execute();
  }

  /** Size of a recorded blob, or ARTIFACT_NOT_FOUND: a version may only reference what was uploaded. */
  async sizeOf(digest: string, db: Executor = this.db): Promise<number> {
    const row = await db.selectFrom("blobs").select("size").where("digest", "=", digest).executeTakeFirst();
    if (!row)
      throw new SkalaError("ARTIFACT_NOT_FOUND", `no artifact with digest ${digest} was uploaded`, {
        digest,
      });
    return row.size;
  }

  async open(digest: Digest): Promise<{ size: number; body: AsyncIterable<Uint8Array> }> {
    const info = await this.blobs.stat(digest);
    if (!info) throw new SkalaError("ARTIFACT_NOT_FOUND", `no artifact with digest ${digest}`, { digest });
    return { size: info.size, body: await this.blobs.stream(digest) };
  }

  read(digest: Digest): Promise<Buffer> {
    return this.blobs.read(digest);
  }

  /**
   * Removes what uploads that never finished (a crash mid-upload) left in the blob store, once older than the
   * grace period; an upload still running in this process is never touched.
   */
  sweepIncomplete(options: { graceSeconds: number; dryRun?: boolean }): Promise<SweepReport> {
    return this.blobs.sweepIncomplete({
      olderThan: new Date(this.clock.now().getTime() - options.graceSeconds * 1000),
      dryRun: !!options.dryRun,
    });
  }

  /**
   * Removes blobs nothing references, and the temporary files of crashed uploads (`sweepIncomplete`). For each candidate older than the grace period, the `blobs` row is
   * deleted first, in a statement that re-checks for references; a registration racing with it either
   * commits first (the row stays) or fails its foreign key. Only then is the file removed.
   */
  async collectGarbage(options: { graceSeconds: number; dryRun?: boolean }): Promise<GcReport> {
    const report: GcReport = {
      scanned: 0,
      referenced: 0,
      kept: 0,
      deleted: 0,
      freedBytes: 0,
      tmpFilesSwept: 0,
      tmpBytesSwept: 0,
      dryRun: !!options.dryRun,
    };
    const swept = await this.sweepIncomplete(options);
    report.tmpFilesSwept = swept.files;
    report.tmpBytesSwept = swept.bytes;
    const cutoff = this.clock.now().getTime() - options.graceSeconds * 1000;
    for await (const blob of this.blobs.list()) {
      report.scanned++;
      if (await this.isReferenced(blob.digest)) {
        report.referenced++;
        continue;
      }
      if (blob.modifiedAt.getTime() > cutoff) {
        report.kept++;
        continue;
      }
      if (options.dryRun) {
        report.deleted++;
        report.freedBytes += blob.size;
        continue;
      }
      await this.db
        .deleteFrom("blobs")
        .where("digest", "=", blob.digest)
        .where((eb) =>
          eb.and([
            eb.not(
              eb.exists(
                eb.selectFrom("model_versions").select("id").where("artifact_digest", "=", blob.digest),
              ),
            ),
            eb.not(
              eb.exists(eb.selectFrom("run_artifacts").select("run_id").where("digest", "=", blob.digest)),
            ),
            eb.not(
              eb.exists(eb.selectFrom("dataset_versions").select("id").where("digest", "=", blob.digest)),
            ),
          ]),
        )
        .executeTakeFirst();
      const stillRecorded = await this.db
        .selectFrom("blobs")
        .select("digest")
        .where("digest", "=", blob.digest)
        .executeTakeFirst();
      if (stillRecorded) {
        report.referenced++;
        continue;
      }
      // A re-upload during this pass refreshes the file's time: keep it and restore its row.
      const latest = await this.blobs.stat(blob.digest);
      if (latest && latest.modifiedAt.getTime() > cutoff) {
        await this.record(blob.digest, latest.size);
        report.kept++;
        continue;
      }
      if (await this.blobs.delete(blob.digest)) {
        report.deleted++;
        report.freedBytes += blob.size;
      }
    }
    return report;
  }

  private async isReferenced(digest: string): Promise<boolean> {
    const [version, run, dataset] = await Promise.all([
      this.db
        .selectFrom("model_versions")
        .select("id")
        .where("artifact_digest", "=", digest)
        .executeTakeFirst(),
      this.db.selectFrom("run_artifacts").select("run_id").where("digest", "=", digest).executeTakeFirst(),
      this.db.selectFrom("dataset_versions").select("id").where("digest", "=", digest).executeTakeFirst(),
    ]);
    return Boolean(version || run || dataset);
  }
}
