import { type Clock, decodeCursor, encodeCursor, newId, SkalaError } from "../core/index.js";
import { type Executor, inTransaction, type Store } from "../store/index.js";
import { type ModelSort, ModelsRepository } from "./models.repository.js";
import type { ProjectResolver } from "./project-resolver.js";
import type { CreateModelInput, UpdateModelInput } from "./registry.schemas.js";
import type { Page, RegisteredModel } from "./registry.types.js";

export interface ListModelsOptions {
  namePrefix?: string;
  fleet?: string;
  tags?: Record<string, string>;
  archived?: "exclude" | "only" | "include";
  sort?: ModelSort;
  order?: "asc" | "desc";
  limit?: number;
  cursor?: string;
}

export class ModelService {
  private readonly db: Executor;
  /** Reads that are not part of a caller's transaction: the store's read connection. */
  private readonly readDb: Executor;
  private readonly models: ModelsRepository;

  constructor(
    store: Pick<Store, "db" | "readDb">,
    private readonly projects: ProjectResolver,
    private readonly clock: Clock,
    private readonly pageSizeMax: number,
  ) {
    this.db = store.db;
    this.readDb = store.readDb;
    this.models = new ModelsRepository(store.db);
  }

  async create(project: string, input: CreateModelInput, db: Executor = this.db): Promise<RegisteredModel> {
    const projectId = await this.projects.idOf(project, db);
    const now = this.clock.now();
    const created = await inTransaction(db, (trx) =>
      this.models.insert(
        {
          id: newId("mdl", now),
          project_id: projectId,
          name: input.name,
          description: input.description ?? "",
          fleet: input.fleet ?? null,
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
          tags: input.tags ?? {},
        },
        trx,
      ),
    );
    if (!created) {
      throw new SkalaError("MODEL_EXISTS", `model "${input.name}" already exists in project "${project}"`, {
        project,
        model: input.name,
      });
    }
    return this.get(project, input.name, db);
  }

  async get(project: string, name: string, db: Executor = this.readDb): Promise<RegisteredModel> {
    const projectId = await this.projects.idOf(project, db);
    const model = await this.models.findByName(projectId, project, name, db);
    if (!model) {
      throw new SkalaError("MODEL_NOT_FOUND", `model "${name}" does not exist in project "${project}"`, {
        project,
        model: name,
      });
    }
    return model;
  }

  async list(
    project: string,
    options: ListModelsOptions = {},
    db: Executor = this.readDb,
  ): Promise<Page<RegisteredModel>> {
    const projectId = await this.projects.idOf(project, db);
    const sort = options.sort ?? "name";
    const order = options.order ?? "asc";
    const limit = Math.min(options.limit ?? 100, this.pageSizeMax);
    const fingerprint = JSON.stringify([
      project,
      options.namePrefix ?? "",
      options.fleet ?? null,
      options.tags ?? {},
      options.archived ?? "exclude",
      sort,
      order,
    ]);
    const after = options.cursor ? decodeCursor(options.cursor, fingerprint) : undefined;
    const items = await this.models.list(
      {
        projectId,
        sort,
        order,
        limit: limit + 1,
        ...(options.namePrefix !== undefined && { namePrefix: options.namePrefix }),
        ...(options.fleet !== undefined && { fleet: options.fleet }),
        ...(options.tags !== undefined && { tags: options.tags }),
        ...(options.archived !== undefined && { archived: options.archived }),
        ...(after && { after: { key: String(after.key), id: after.id } }),
      },
      project,
      db,
    );
    const hasMore = items.length > limit;
    const page = hasMore ? items.slice(0, limit) : items;
    const last = page[page.length - 1];
    const sortKey = (m: RegisteredModel) =>
      sort === "name" ? m.name : sort === "createdAt" ? m.createdAt : m.updatedAt;
    return {
      items: page,
      nextCursor: hasMore && last ? encodeCursor({ key: sortKey(last), id: last.id }, fingerprint) : null,
    };
  }

  async update(
    project: string,
    name: string,
    input: UpdateModelInput,
    db: Executor = this.db,
  ): Promise<RegisteredModel> {
    const model = await this.get(project, name, db);
    if (model.archived) {
      throw new SkalaError("MODEL_ARCHIVED", `model "${name}" is archived; restore it first`, {
        project,
        model: name,
      });
    }
    await inTransaction(db, async (trx) => {
      await this.models.update(
        model.id,
        {
          updated_at: this.clock.now().toISOString(),
          ...(input.description !== undefined && { description: input.description }),
          ...(input.fleet !== undefined && { fleet: input.fleet }),
        },
        trx,
      );
      if (input.tags !== undefined) await this.models.replaceTags(model.id, input.tags, trx);
    });
    return this.get(project, name, db);
  }

  async archive(project: string, name: string, db: Executor = this.db): Promise<RegisteredModel> {
    const model = await this.get(project, name, db);
    if (!model.archived) {
      const now = this.clock.now().toISOString();
      await this.models.update(model.id, { archived_at: now, updated_at: now }, db);
    }
    return this.get(project, name, db);
  }

  async restore(project: string, name: string, db: Executor = this.db): Promise<RegisteredModel> {
    const model = await this.get(project, name, db);
    if (model.archived) {
      await this.models.update(
        model.id,
        { archived_at: null, updated_at: this.clock.now().toISOString() },
        db,
      );
    }
    return this.get(project, name, db);
  }
}
