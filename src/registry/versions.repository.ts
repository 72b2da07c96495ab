import { type Expression, type ExpressionBuilder, type InsertObject, type SqlBool, sql } from "kysely";
import type { Database, Executor, ModelVersionsTable } from "../store/index.js";
import { literalLimit } from "../store/index.js";
import {
  candidateSizesQuery,
  drivingCandidates,
  type FilterExpression,
  planVersionSearch,
  searchedVersions,
} from "./filter/index.js";
import { groupKeyValues } from "./key-values.js";
import type { Signature, VersionStatus } from "./registry.schemas.js";
import type { AliasChange, ModelVersion } from "./registry.types.js";

/** The query every version read starts from: versions joined to their model. */
export type VersionScope = ExpressionBuilder<
  Database & { v: ModelVersionsTable; m: Database["registered_models"] },
  "v" | "m"
>;
export type VersionPredicate = (eb: VersionScope) => Expression<SqlBool>;

export interface VersionRowInput {
  row: ModelVersionsTable;
  tags: Record<string, string>;
  params: Record<string, string>;
  metrics: Record<string, number>;
}

/** Rows per multi-row INSERT: stays under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters. */
const INSERT_CHUNK = 1_000;

export async function insertChunked<T extends keyof Database>(
  db: Executor,
  table: T,
  rows: ReadonlyArray<InsertObject<Database, T>>,
  perChunk = INSERT_CHUNK,
): Promise<void> {
  for (let start = 0; start < rows.length; start += perChunk) {
    const chunk = rows.slice(start, start + perChunk);
    await db.insertInto(table).values(chunk).execute();
  }
}

export class VersionsRepository {
  constructor(private readonly db: Executor) {}

  async insertMany(versions: VersionRowInput[], db: Executor): Promise<void> {
    await insertChunked(
      db,
      "model_versions",
      versions.map((v) => v.row),
    );
    const keyValues = <V>(pick: (v: VersionRowInput) => Record<string, V>) =>
      versions.flatMap((v) =>
        Object.entries(pick(v)).map(([key, value]) => ({ version_id: v.row.id, key, value })),
      );
    await insertChunked(
      db,
      "version_tags",
      keyValues((v) => v.tags),
      5_000,
    );
    await insertChunked(
      db,
      "version_params",
      keyValues((v) => v.params),
      5_000,
    );
    await insertChunked(
      db,
      "version_metrics",
      keyValues((v) => v.metrics),
      5_000,
    );
  }

  /** Reads versions matching `where`, with their tags, params, metrics and aliases. */
  async find(options: {
    where: VersionPredicate;
    order: "asc" | "desc";
    orderBy: "version" | "id";
    limit: number;
    db?: Executor;
  }): Promise<ModelVersion[]> {
    const db = options.db ?? this.db;
    const rows = await db
      .selectFrom("model_versions as v")
      .innerJoin("registered_models as m", "m.id", "v.model_id")
      .selectAll("v")
      .select("m.name as model_name")
      .where(options.where)
      .orderBy(options.orderBy === "version" ? "v.version" : "v.id", options.order)
      .orderBy("v.id", options.order)
      .limit(literalLimit(options.limit))
      .execute();
    return this.withDetails(rows, db);
  }

  /**
   * A page of a project's versions in id order, matching a filter. Where the search starts is chosen per query
   * (`planVersionSearch`) from capped counts of what each indexable condition matches, one extra round trip
   * when the filter has such conditions: without it SQLite sorts every version of the project for each page,
   * or materialises every id a common tag matches (50 ms at 100,000 versions, where a plan that fits takes 1–5).
   */
  async search(options: {
    projectId: string;
    filter: FilterExpression | undefined;
    after: string | undefined;
    order: "asc" | "desc";
    limit: number;
    db?: Executor;
  }): Promise<ModelVersion[]> {
    const db = options.db ?? this.db;
    const candidates = drivingCandidates(options.filter);
    const counted =
      candidates.length === 0
        ? {}
        : await candidateSizesQuery(db, options.projectId, candidates).executeTakeFirstOrThrow();
    const sizes = candidates.map((_, i) => Number((counted as Record<string, unknown>)[`n${i}`]));
    const plan = planVersionSearch(options.filter, candidates, sizes);
    let query = searchedVersions(db, plan)
      .selectAll("v")
      .select("m.name as model_name")
      .where("m.project_id", "=", options.projectId);
    if (options.after) query = query.where("v.id", options.order === "asc" ? ">" : "<", options.after);
    const rows = await query.orderBy("v.id", options.order).limit(literalLimit(options.limit)).execute();
    return this.withDetails(rows, db);
  }

  private async withDetails(
    rows: ReadonlyArray<ModelVersionsTable & { model_name: string }>,
    db: Executor,
  ): Promise<ModelVersion[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    // One round trip for every key/value table and the aliases, instead of four. Metrics come first so
    // that PostgreSQL types the union's number column from a real column, not from a NULL literal.
    // Written as one static template rather than four query builders: it runs on every read, and building and
    // compiling the union costs more than executing it. Every value is still a bound parameter.
    const idList = sql.join(ids);
    const { rows: details } = await sql<{
      kind: string;
      owner: string;
      key: string;
      text: string | null;
      number: number | null;
    }>`
      select 'metric' as kind, version_id as owner, key, null as text, value as number from version_metrics where version_id in (${idList})
      union all select 'tag', version_id, key, value, null from version_tags where version_id in (${idList})
      union all select 'param', version_id, key, value, null from version_params where version_id in (${idList})
      union all select 'alias', version_id, alias, null, null from aliases where version_id in (${idList})`.execute(
      db,
    );
    const tagsBy = groupKeyValues(
      details
        .filter((d) => d.kind === "tag")
        .map((d) => ({ owner: d.owner, key: d.key, value: d.text ?? "" })),
    );
    const paramsBy = groupKeyValues(
      details
        .filter((d) => d.kind === "param")
        .map((d) => ({ owner: d.owner, key: d.key, value: d.text ?? "" })),
    );
    const metricsBy = groupKeyValues(
      details
        .filter((d) => d.kind === "metric")
        .map((d) => ({ owner: d.owner, key: d.key, value: Number(d.number) })),
    );
    const aliasesBy = new Map<string, string[]>();
    for (const a of details) {
      if (a.kind === "alias") aliasesBy.set(a.owner, [...(aliasesBy.get(a.owner) ?? []), a.key].sort());
    }
    return rows.map((row) => ({
      id: row.id,
      model: row.model_name,
      version: row.version,
      runtime: row.runtime,
      artifact: { digest: row.artifact_digest, size: row.artifact_size },
      signature: row.signature ? (JSON.parse(row.signature) as Signature | null) : null,
      params: paramsBy.get(row.id) ?? {},
      metrics: metricsBy.get(row.id) ?? {},
      tags: tagsBy.get(row.id) ?? {},
      status: row.status as VersionStatus,
      description: row.description,
      lineage: {
        datasetVersionId: row.dataset_version_id,
        runId: row.run_id,
        parentVersionId: row.parent_version_id,
        sourceRef: row.source_ref,
      },
      aliases: aliasesBy.get(row.id) ?? [],
      createdAt: row.created_at,
    }));
  }

  async findOne(where: VersionPredicate, db?: Executor): Promise<ModelVersion | undefined> {
    const found = await this.find({ where, order: "asc", orderBy: "id", limit: 1, ...(db && { db }) });
    return found[0];
  }

  async update(
    versionId: string,
    changes: { status?: VersionStatus; description?: string; tags?: Record<string, string> },
    db: Executor,
  ): Promise<void> {
    const { tags, ...columns } = changes;
    if (Object.keys(columns).length > 0) {
      await db.updateTable("model_versions").set(columns).where("id", "=", versionId).execute();
    }
    if (tags) {
      await db.deleteFrom("version_tags").where("version_id", "=", versionId).execute();
      await insertChunked(
        db,
        "version_tags",
        Object.entries(tags).map(([key, value]) => ({ version_id: versionId, key, value })),
      );
    }
  }

  async aliasHistory(
    modelId: string,
    alias: string | undefined,
    limit: number,
    db: Executor = this.db,
  ): Promise<AliasChange[]> {
    let q = db
      .selectFrom("alias_history as h")
      .leftJoin("model_versions as f", "f.id", "h.from_version_id")
      .leftJoin("model_versions as t", "t.id", "h.to_version_id")
      .select(["h.alias", "h.changed_at", "h.reason", "f.version as from_version", "t.version as to_version"])
      .where("h.model_id", "=", modelId);
    if (alias !== undefined) q = q.where("h.alias", "=", alias);
    const rows = await q.orderBy("h.seq", "desc").limit(literalLimit(limit)).execute();
    return rows.map((r) => ({
      alias: r.alias,
      fromVersion: r.from_version,
      toVersion: r.to_version,
      changedAt: r.changed_at,
      reason: r.reason,
    }));
  }
}
