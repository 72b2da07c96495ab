import type { Kysely } from "kysely";
import { SkalaError } from "../core/index.js";
import type { Database } from "../store/index.js";

/**
 * Maps project names to ids for every service. Projects are never renamed or deleted,
 * so a found id is cached for the life of the process; misses are not cached.
 */
export class ProjectResolver {
  private readonly ids = new Map<string, string>();

  constructor(private readonly db: Kysely<Database>) {}

  async idOf(project: string): Promise<string> {
    const cached = this.ids.get(project);
    if (cached) return cached;
    const row = await this.db
      .selectFrom("projects")
      .select("id")
      .where("name", "=", project)
      .executeTakeFirst();
    if (!row) throw new SkalaError("PROJECT_NOT_FOUND", `project "${project}" does not exist`, { project });
    this.ids.set(project, row.id);
    return row.id;
  }
}
