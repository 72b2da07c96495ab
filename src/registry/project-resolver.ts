import { SkalaError } from "../core/index.js";
import type { Executor } from "../store/index.js";

/**
 * Maps project names to ids for every service. Projects are never renamed or deleted,
 * so a found id is cached for the life of the process; misses are not cached.
 */
export class ProjectResolver {
  private readonly ids = new Map<string, string>();

  constructor(private readonly db: Executor) {}

  /** `db`: the caller's transaction, or the read connection; a lookup inside a transaction must not leave it. */
  async idOf(project: string, db: Executor = this.db): Promise<string> {
    const cached = this.ids.get(project);
    if (cached) return cached;
    const row = await db.selectFrom("projects").select("id").where("name", "=", project).executeTakeFirst();
    if (!row) throw new SkalaError("PROJECT_NOT_FOUND", `project "${project}" does not exist`, { project });
    this.ids.set(project, row.id);
    return row.id;
  }
}
