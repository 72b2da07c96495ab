import { newId } from "../core/index.js";
import { type Executor, inTransaction, type ProjectsTable } from "../store/index.js";
import { ENVIRONMENTS, type Project } from "./registry.types.js";

function toProject(row: ProjectsTable): Project {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    environments: [...ENVIRONMENTS],
    createdAt: row.created_at,
  };
}

export class ProjectsRepository {
  constructor(private readonly db: Executor) {}

  async findByName(name: string, db: Executor = this.db): Promise<Project | undefined> {
    const row = await db.selectFrom("projects").selectAll().where("name", "=", name).executeTakeFirst();
    return row && toProject(row);
  }

  async list(): Promise<Project[]> {
    const rows = await this.db.selectFrom("projects").selectAll().orderBy("name").execute();
    return rows.map(toProject);
  }

  /** Inserts the project and its dev/test/prod environments atomically; false if the name is taken. */
  async insert(
    input: { name: string; description: string; now: Date },
    db: Executor = this.db,
  ): Promise<Project | undefined> {
    const createdAt = input.now.toISOString();
    const row: ProjectsTable = {
      id: newId("prj", input.now),
      name: input.name,
      description: input.description,
      created_at: createdAt,
    };
    return inTransaction(db, async (trx) => {
      const inserted = await trx
        .insertInto("projects")
        .values(row)
        .onConflict((oc) => oc.column("name").doNothing())
        .returning("id")
        .executeTakeFirst();
      if (!inserted) return undefined;
      await trx
        .insertInto("environments")
        .values(
          ENVIRONMENTS.map((name) => ({
            id: newId("env", input.now),
            project_id: row.id,
            name,
            created_at: createdAt,
          })),
        )
        .execute();
      return toProject(row);
    });
  }
}
