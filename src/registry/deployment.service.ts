import {
  type Clock,
  isSkalaError,
  newId,
  SkalaError,
  type ValidationIssue,
  validationError,
} from "../core/index.js";
import type { Executor, Store } from "../store/index.js";
import type { ProjectResolver } from "./project-resolver.js";
import type { SetDeploymentInput } from "./registry.schemas.js";
import type { Deployment, EnvironmentName } from "./registry.types.js";
import { parseVersionRef, type RegistryObserver, type VersionService } from "./version.service.js";

/**
 * Deployments: how one environment of a project serves a model. Routes split the traffic of requests that
 * name no version (weights in percent, summing to 100); a shadow gets a copy of each request. Targets are
 * aliases or version numbers and are resolved by the inference server on every request, so moving an alias
 * moves the traffic; here they are only checked to exist when the deployment is set.
 */
export class DeploymentService {
  private readonly db: Executor;
  /** Reads that belong to no transaction; on a file-backed SQLite store they do not wait behind a write. */
  private readonly readDb: Executor;

  constructor(
    store: Pick<Store, "db" | "readDb">,
    private readonly projects: ProjectResolver,
    private readonly versions: VersionService,
    private readonly clock: Clock,
    private readonly observer: RegistryObserver = {},
  ) {
    this.db = store.db;
    this.readDb = store.readDb;
  }

  async set(
    project: string,
    environment: EnvironmentName,
    model: string,
    input: SetDeploymentInput,
    db: Executor = this.db,
  ): Promise<Deployment> {
    const { environmentId, modelId } = await this.ids(project, environment, model, db);
    const archived = await db
      .selectFrom("registered_models")
      .select("archived_at")
      .where("id", "=", modelId)
      .executeTakeFirstOrThrow();
    if (archived.archived_at !== null) {
      throw new SkalaError("MODEL_ARCHIVED", `model "${model}" is archived; restore it first`, {
        project,
        model,
      });
    }
    await this.checkInput(project, model, input, db);
    const now = this.clock.now().toISOString();
    const routes = JSON.stringify(input.routes.map((r) => ({ target: r.target, weight: r.weight })));
    const shadow = input.shadow ?? null;
    const pinned = (input.pinned ?? environment === "prod") ? 1 : 0;
    await db
      .insertInto("deployments")
      .values({
        id: newId("dep", this.clock.now()),
        environment_id: environmentId,
        model_id: modelId,
        routes,
        shadow,
        pinned,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc.columns(["environment_id", "model_id"]).doUpdateSet({ routes, shadow, pinned, updated_at: now }),
      )
      .execute();
    this.changed(project, environment, model);
    return this.get(project, environment, model, db);
  }

  private changed(project: string, environment: EnvironmentName, model: string): void {
    try {
      this.observer.deploymentChanged?.({ project, environment, model });
    } catch {
      // An observer must not turn a stored change into a failed request.
    }
  }

  async get(
    project: string,
    environment: EnvironmentName,
    model: string,
    db: Executor = this.readDb,
  ): Promise<Deployment> {
    const found = await this.find(project, environment, model, db);
    if (found === undefined) {
      throw new SkalaError(
        "DEPLOYMENT_NOT_FOUND",
        `model "${model}" has no deployment in environment "${environment}" of project "${project}"`,
        { project, environment, model },
      );
    }
    return found;
  }

  /** The deployment, or undefined: the inference server's per-request question, so a miss does not throw. */
  async find(
    project: string,
    environment: EnvironmentName,
    model: string,
    db: Executor = this.readDb,
  ): Promise<Deployment | undefined> {
    const projectId = await this.projects.idOf(project, db);
    const row = await db
      .selectFrom("deployments as d")
      .innerJoin("environments as e", "e.id", "d.environment_id")
      .innerJoin("registered_models as m", "m.id", "d.model_id")
      .select(["d.routes", "d.shadow", "d.pinned", "d.created_at", "d.updated_at"])
      .where("e.project_id", "=", projectId)
      .where("e.name", "=", environment)
      .where("m.project_id", "=", projectId)
      .where("m.name", "=", model)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      project,
      environment,
      model,
      routes: JSON.parse(row.routes),
      shadow: row.shadow,
      pinned: row.pinned === 1,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async list(
    project: string,
    environment: EnvironmentName,
    db: Executor = this.readDb,
  ): Promise<Deployment[]> {
    const projectId = await this.projects.idOf(project, db);
    const rows = await db
      .selectFrom("deployments as d")
      .innerJoin("environments as e", "e.id", "d.environment_id")
      .innerJoin("registered_models as m", "m.id", "d.model_id")
      .select(["m.name", "d.routes", "d.shadow", "d.pinned", "d.created_at", "d.updated_at"])
      .where("e.project_id", "=", projectId)
      .where("e.name", "=", environment)
      .orderBy("m.name")
      .execute();
    return rows.map((row) => ({
      project,
      environment,
      model: row.name,
      routes: JSON.parse(row.routes),
      shadow: row.shadow,
      pinned: row.pinned === 1,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
  }

  async delete(
    project: string,
    environment: EnvironmentName,
    model: string,
    db: Executor = this.db,
  ): Promise<void> {
    const { environmentId, modelId } = await this.ids(project, environment, model, db);
    const deleted = await db
      .deleteFrom("deployments")
      .where("environment_id", "=", environmentId)
      .where("model_id", "=", modelId)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) await this.get(project, environment, model, db);
    this.changed(project, environment, model);
  }

  /** Every problem at once: weights, duplicate targets, and targets that do not resolve now. */
  private async checkInput(
    project: string,
    model: string,
    input: SetDeploymentInput,
    db: Executor,
  ): Promise<void> {
    const issues: ValidationIssue[] = [];
    const total = input.routes.reduce((sum, r) => sum + r.weight, 0);
    if (total !== 100)
      issues.push({ path: "/routes", message: `weights sum to ${total}; they must sum to 100` });
    const seen = new Set<string>();
    const targets: Array<{ path: string; target: string }> = [];
    input.routes.forEach((route, index) => {
      if (seen.has(route.target)) {
        issues.push({ path: `/routes/${index}/target`, message: `"${route.target}" is routed twice` });
      }
      seen.add(route.target);
      targets.push({ path: `/routes/${index}/target`, target: route.target });
    });
    if (input.shadow != null) {
      if (seen.has(input.shadow)) {
        issues.push({
          path: "/shadow",
          message: `"${input.shadow}" already takes live traffic; a shadow must not`,
        });
      }
      targets.push({ path: "/shadow", target: input.shadow });
    }
    for (const { path, target } of targets) {
      try {
        await this.versions.get(project, model, parseVersionRef(target), db);
      } catch (error) {
        if (!isSkalaError(error) || !["VERSION_NOT_FOUND", "ALIAS_NOT_FOUND"].includes(error.code))
          throw error;
        issues.push({ path, message: error.message });
      }
    }
    if (issues.length > 0) throw validationError(issues);
  }

  private async ids(
    project: string,
    environment: EnvironmentName,
    model: string,
    db: Executor,
  ): Promise<{ environmentId: string; modelId: string }> {
    const projectId = await this.projects.idOf(project, db);
    const [env, modelRow] = await Promise.all([
      db
        .selectFrom("environments")
        .select("id")
        .where("project_id", "=", projectId)
        .where("name", "=", environment)
        .executeTakeFirst(),
      db
        .selectFrom("registered_models")
        .select("id")
        .where("project_id", "=", projectId)
        .where("name", "=", model)
        .executeTakeFirst(),
    ]);
    if (modelRow === undefined) {
      throw new SkalaError("MODEL_NOT_FOUND", `model "${model}" does not exist in project "${project}"`, {
        project,
        model,
      });
    }
    // Every project is created with dev, test and prod, and the schema admits only those names.
    if (env === undefined) throw new Error(`project "${project}" has no environment "${environment}"`);
    return { environmentId: env.id, modelId: modelRow.id };
  }
}
