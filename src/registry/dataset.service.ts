import { type Digest, parseDigest } from "../artifacts/index.js";
import { type Clock, newId, SkalaError } from "../core/index.js";
import {
  type DatasetVersionsTable,
  type Executor,
  inTransaction,
  type SqlDialect,
  type Store,
} from "../store/index.js";
import type { ArtifactService } from "./artifact.service.js";
import { profileCsv } from "./csv-profile.js";
import type { ProjectResolver } from "./project-resolver.js";
import type { RegisterDatasetInput } from "./registry.schemas.js";
import type { ColumnSchema, Dataset, DatasetVersion } from "./registry.types.js";

function toDatasetVersion(dataset: string, row: DatasetVersionsTable): DatasetVersion {
  return {
    id: row.id,
    dataset,
    version: row.version,
    digest: row.digest,
    size: row.size,
    format: "csv",
    rows: row.rows,
    schema: JSON.parse(row.schema) as ColumnSchema[],
    createdAt: row.created_at,
  };
}

/** An uploaded CSV with what profiling it found: what `recordVersion` stores. */
export interface ProfiledDataset {
  digest: Digest;
  size: number;
  rows: number;
  schema: ColumnSchema[];
}

export class DatasetService {
  private readonly db: Executor;
  /** Reads that belong to no transaction; on a file-backed SQLite store they do not wait behind a write. */
  private readonly readDb: Executor;
  private readonly dialect: SqlDialect;

  constructor(
    store: Pick<Store, "db" | "readDb" | "sqlDialect">,
    private readonly projects: ProjectResolver,
    private readonly artifacts: ArtifactService,
    private readonly clock: Clock,
  ) {
    this.db = store.db;
    this.readDb = store.readDb;
    this.dialect = store.sqlDialect;
  }

  /**
   * Registers an uploaded file as the next version of a dataset, after profiling it (rows, column types).
   * The same bytes registered again return the existing version: datasets are content-addressed. Profiling
   * reads the whole file; in a transaction of its own, call `profile` before it and `recordVersion` in it.
   */
  async registerVersion(
    project: string,
    name: string,
    input: RegisterDatasetInput,
    db: Executor = this.db,
  ): Promise<DatasetVersion> {
    const projectId = await this.projects.idOf(project, db);
    const digest: Digest = parseDigest(input.digest, "/digest");
    const existing = await this.findByDigest(projectId, name, digest, db);
    if (existing) return toDatasetVersion(name, existing);
    return this.recordVersion(project, name, await this.profile(digest, db), db);
  }

  /** Reads and profiles an uploaded CSV (ARTIFACT_NOT_FOUND unless it was uploaded). */
  async profile(digest: string, db: Executor = this.db): Promise<ProfiledDataset> {
    const parsed = parseDigest(digest, "/digest");
    const size = await this.artifacts.sizeOf(parsed, db);
    const { body } = await this.artifacts.open(parsed);
    const { rows, schema } = await profileCsv(body);
    return { digest: parsed, size, rows, schema };
  }

  /**
   * Stores a profiled file as the next version of the dataset, or returns the version that holds the same
   * bytes already. Concurrent registrations of one dataset queue on its row, so the same bytes never get two
   * versions.
   */
  async recordVersion(
    project: string,
    name: string,
    profiled: ProfiledDataset,
    db: Executor = this.db,
  ): Promise<DatasetVersion> {
    const projectId = await this.projects.idOf(project, db);
    const now = this.clock.now();
    const row = await inTransaction(db, async (trx) => {
      await trx
        .insertInto("datasets")
        .values({
          id: newId("dst", now),
          project_id: projectId,
          name,
          latest_version: 0,
          created_at: now.toISOString(),
        })
        .onConflict((oc) => oc.columns(["project_id", "name"]).doNothing())
        .execute();
      const dataset = await this.dialect
        .forUpdate(
          trx
            .selectFrom("datasets")
            .select(["id", "latest_version"])
            .where("project_id", "=", projectId)
            .where("name", "=", name),
        )
        .executeTakeFirstOrThrow();
      const existing = await this.findByDigest(projectId, name, profiled.digest, trx);
      if (existing) return existing;
      const version = dataset.latest_version + 1;
      await trx
        .updateTable("datasets")
        .set({ latest_version: version })
        .where("id", "=", dataset.id)
        .execute();
      const inserted: DatasetVersionsTable = {
        id: newId("dsv", now),
        dataset_id: dataset.id,
        version,
        digest: profiled.digest,
        size: profiled.size,
        format: "csv",
        rows: profiled.rows,
        schema: JSON.stringify(profiled.schema),
        created_at: now.toISOString(),
      };
      await trx.insertInto("dataset_versions").values(inserted).execute();
      return inserted;
    });
    return toDatasetVersion(name, row);
  }

  private findByDigest(
    projectId: string,
    name: string,
    digest: string,
    db: Executor,
  ): Promise<DatasetVersionsTable | undefined> {
    return db
      .selectFrom("dataset_versions as dv")
      .innerJoin("datasets as d", "d.id", "dv.dataset_id")
      .selectAll("dv")
      .where("d.project_id", "=", projectId)
      .where("d.name", "=", name)
      .where("dv.digest", "=", digest)
      .executeTakeFirst();
  }

  async list(project: string, db: Executor = this.readDb): Promise<Dataset[]> {
    const projectId = await this.projects.idOf(project, db);
    const rows = await db
      .selectFrom("datasets")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("name")
      .execute();
    return rows.map((r) => ({
      id: r.id,
      project,
      name: r.name,
      latestVersion: r.latest_version,
      createdAt: r.created_at,
    }));
  }

  async versions(project: string, name: string, db: Executor = this.readDb): Promise<DatasetVersion[]> {
    const projectId = await this.projects.idOf(project, db);
    const rows = await db
      .selectFrom("dataset_versions as dv")
      .innerJoin("datasets as d", "d.id", "dv.dataset_id")
      .selectAll("dv")
      .where("d.project_id", "=", projectId)
      .where("d.name", "=", name)
      .orderBy("dv.version", "desc")
      .execute();
    if (rows.length === 0) {
      throw new SkalaError("DATASET_NOT_FOUND", `dataset "${name}" does not exist in project "${project}"`, {
        project,
        dataset: name,
      });
    }
    return rows.map((r) => toDatasetVersion(name, r));
  }

  async version(
    project: string,
    name: string,
    version: number,
    db: Executor = this.readDb,
  ): Promise<DatasetVersion> {
    const found = (await this.versions(project, name, db)).find((v) => v.version === version);
    if (!found) {
      throw new SkalaError("DATASET_NOT_FOUND", `dataset "${name}" has no version ${version}`, {
        project,
        dataset: name,
        version,
      });
    }
    return found;
  }
}
