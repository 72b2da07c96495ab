import type { Kysely } from "kysely";
import { type Digest, parseDigest } from "../artifacts/index.js";
import { type Clock, newId, SkalaError } from "../core/index.js";
import type { Database, DatasetVersionsTable } from "../store/index.js";
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

export class DatasetService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly projects: ProjectResolver,
    private readonly artifacts: ArtifactService,
    private readonly clock: Clock,
  ) {}

  /**
   * Registers an uploaded file as the next version of a dataset, after profiling it (rows, column types).
   * The same bytes registered again return the existing version: datasets are content-addressed.
   */
  async registerVersion(project: string, name: string, input: RegisterDatasetInput): Promise<DatasetVersion> {
    const projectId = await this.projects.idOf(project);
    const digest: Digest = parseDigest(input.digest, "/digest");
    const size = await this.artifacts.sizeOf(digest);
    const existing = await this.db
      .selectFrom("dataset_versions as dv")
      .innerJoin("datasets as d", "d.id", "dv.dataset_id")
      .selectAll("dv")
      .where("d.project_id", "=", projectId)
      .where("d.name", "=", name)
      .where("dv.digest", "=", digest)
      .executeTakeFirst();
    if (existing) return toDatasetVersion(name, existing);

    const { body } = await this.artifacts.open(digest);
    const profile = await profileCsv(body);
    const now = this.clock.now();
    const row = await this.db.transaction().execute(async (trx) => {
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
      const dataset = await trx
        .updateTable("datasets")
        .set((eb) => ({ latest_version: eb("latest_version", "+", 1) }))
        .where("project_id", "=", projectId)
        .where("name", "=", name)
        .returning(["id", "latest_version"])
        .executeTakeFirstOrThrow();
      const inserted: DatasetVersionsTable = {
        id: newId("dsv", now),
        dataset_id: dataset.id,
        version: dataset.latest_version,
        digest,
        size,
        format: "csv",
        rows: profile.rows,
        schema: JSON.stringify(profile.schema),
        created_at: now.toISOString(),
      };
      await trx.insertInto("dataset_versions").values(inserted).execute();
      return inserted;
    });
    return toDatasetVersion(name, row);
  }

  async list(project: string): Promise<Dataset[]> {
    const projectId = await this.projects.idOf(project);
    const rows = await this.db
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

  async versions(project: string, name: string): Promise<DatasetVersion[]> {
    const projectId = await this.projects.idOf(project);
    const rows = await this.db
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

  async version(project: string, name: string, version: number): Promise<DatasetVersion> {
    const found = (await this.versions(project, name)).find((v) => v.version === version);
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
