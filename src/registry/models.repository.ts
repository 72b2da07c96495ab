import type { Executor, RegisteredModelsTable } from "../store/index.js";
import { literalLimit } from "../store/index.js";
import { groupKeyValues } from "./key-values.js";
import type { RegisteredModel } from "./registry.types.js";

export type ModelSort = "name" | "createdAt" | "updatedAt";

export interface ModelQuery {
  projectId: string;
  namePrefix?: string;
  fleet?: string;
  tags?: Record<string, string>;
  archived?: "exclude" | "only" | "include";
  sort: ModelSort;
  order: "asc" | "desc";
  limit: number;
  after?: { key: string; id: string };
}

const SORT_COLUMN = { name: "name", createdAt: "created_at", updatedAt: "updated_at" } as const;

export class ModelsRepository {
  constructor(private readonly db: Executor) {}

  private async withTags(
    rows: RegisteredModelsTable[],
    projectName: string,
    db: Executor = this.db,
  ): Promise<RegisteredModel[]> {
    if (rows.length === 0) return [];
    const tagRows = await db
      .selectFrom("model_tags")
      .select(["model_id as owner", "key", "value"])
      .where(
        "model_id",
        "in",
        rows.map((r) => r.id),
      )
      .execute();
    const tags = groupKeyValues(tagRows);
    return rows.map((row) => ({
      id: row.id,
      project: projectName,
      name: row.name,
      description: row.description,
      fleet: row.fleet,
      tags: tags.get(row.id) ?? {},
      latestVersion: row.latest_version,
      archived: row.archived_at !== null,
      archivedAt: row.archived_at,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
  }

  async findByName(
    projectId: string,
    projectName: string,
    name: string,
    db: Executor = this.db,
  ): Promise<RegisteredModel | undefined> {
    const row = await db
      .selectFrom("registered_models")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) return undefined;
    return (await this.withTags([row], projectName, db))[0];
  }

  async insert(
    model: Omit<RegisteredModelsTable, "latest_version" | "archived_at"> & { tags: Record<string, string> },
    db: Executor = this.db,
  ): Promise<boolean> {
    const { tags, ...row } = model;
    const inserted = await db
      .insertInto("registered_models")
      .values({ ...row, latest_version: 0, archived_at: null })
      .onConflict((oc) => oc.columns(["project_id", "name"]).doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!inserted) return false;
    await this.replaceTags(row.id, tags, db);
    return true;
  }

  async replaceTags(modelId: string, tags: Record<string, string>, db: Executor = this.db): Promise<void> {
    await db.deleteFrom("model_tags").where("model_id", "=", modelId).execute();
    const entries = Object.entries(tags);
    if (entries.length > 0) {
      await db
        .insertInto("model_tags")
        .values(entries.map(([key, value]) => ({ model_id: modelId, key, value })))
        .execute();
    }
  }

  async update(
    modelId: string,
    changes: Partial<Pick<RegisteredModelsTable, "description" | "fleet" | "archived_at" | "updated_at">>,
    db: Executor = this.db,
  ): Promise<void> {
    await db.updateTable("registered_models").set(changes).where("id", "=", modelId).execute();
  }

  async list(query: ModelQuery, projectName: string, db: Executor = this.db): Promise<RegisteredModel[]> {
    const column = SORT_COLUMN[query.sort];
    let q = db
      .selectFrom("registered_models as m")
      .selectAll("m")
      .where("m.project_id", "=", query.projectId);
    if (query.namePrefix) {
      // substr comparison is exact in both dialects, unlike LIKE (wildcards, case folding on SQLite).
      const prefix = query.namePrefix;
      q = q.where((eb) => eb(eb.fn("substr", ["m.name", eb.val(1), eb.val(prefix.length)]), "=", prefix));
    }
    if (query.fleet !== undefined) q = q.where("m.fleet", "=", query.fleet);
    for (const [key, value] of Object.entries(query.tags ?? {})) {
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom("model_tags as t")
            .select("t.model_id")
            .whereRef("t.model_id", "=", "m.id")
            .where("t.key", "=", key)
            .where("t.value", "=", value),
        ),
      );
    }
    if (query.archived === "exclude" || query.archived === undefined)
      q = q.where("m.archived_at", "is", null);
    if (query.archived === "only") q = q.where("m.archived_at", "is not", null);
    if (query.after) {
      const { key, id } = query.after;
      const cmp = query.order === "asc" ? ">" : "<";
      q = q.where((eb) =>
        eb.or([eb(`m.${column}`, cmp, key), eb.and([eb(`m.${column}`, "=", key), eb("m.id", cmp, id)])]),
      );
    }
    const rows = await q
      .orderBy(`m.${column}`, query.order)
      .orderBy("m.id", query.order)
      .limit(literalLimit(query.limit))
      .execute();
    return this.withTags(rows, projectName, db);
  }
}
