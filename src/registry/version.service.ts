import type { CompiledQuery, Kysely, Transaction } from "kysely";
import { type Clock, newId, SkalaError, type ValidationIssue, validationError } from "../core/index.js";
import type { Database, ModelVersionsTable } from "../store/index.js";
import type { ArtifactService } from "./artifact.service.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { parseFilter } from "./filter/index.js";
import type { ProjectResolver } from "./project-resolver.js";
import type {
  ArtifactRef,
  BulkRegisterInput,
  BulkVersionInput,
  CreateVersionInput,
  UpdateVersionInput,
} from "./registry.schemas.js";
import type { AliasAssignment, AliasChange, ModelVersion, Page } from "./registry.types.js";
import { type VersionPredicate, type VersionRowInput, VersionsRepository } from "./versions.repository.js";

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Optional observation points for logs and tests (the crash test kills the server inside this transaction).
 * Observers must not throw.
 */
export interface RegistryObserver {
  /** The artifacts are stored and the all-or-nothing transaction has begun. */
  registrationTransactionStarted?: (versions: number) => void;
  /** A deployment was set or deleted; servers in this process drop what they cached of it. */
  deploymentChanged?: (change: { project: string; environment: string; model: string }) => void;
}

/** What a bulk registration returns per item: enough to address the version, without re-reading it. */
export interface RegisteredVersion {
  id: string;
  model: string;
  version: number;
  digest: string;
}

export interface BulkRegisterOptions {
  /** Overrides the configured maximum (trusted in-process callers such as a fleet's atomic registration). */
  maxVersions?: number;
  /**
   * More writes that must commit or roll back with the versions (a fleet records which segments it
   * registered in the same transaction, so a retried job never registers a segment twice).
   */
  inTransaction?: (trx: Transaction<Database>, registered: RegisteredVersion[]) => Promise<void>;
}

export interface VersionServiceLimits {
  bulkMaxVersions: number;
  pageSizeMax: number;
  /** PostgreSQL: lock model rows while numbering versions (SQLite serialises writers already). */
  lockRows: boolean;
}

/** A version is addressed by number (`3`) or alias (`champion`); aliases never look like numbers. */
export type VersionRef = number | string;

export function parseVersionRef(ref: string): VersionRef {
  return /^[0-9]+$/.test(ref) ? Number(ref) : ref;
}

/** Where a version's artifact is and which runtime loads it: what serving needs, nothing more. */
export interface VersionLocation {
  id: string;
  model: string;
  version: number;
  runtime: string;
  digest: string;
  size: number;
  status: string;
}

type LocateParameter = "project" | "model" | "ref";

interface LocateRow {
  id: string;
  name: string;
  version: number;
  runtime: string;
  artifact_digest: string;
  artifact_size: number;
  status: string;
}

interface PreparedLocate {
  query: CompiledQuery<LocateRow>;
  /** Which value each `?` / `$n` of the SQL takes, in order. */
  order: LocateParameter[];
}

interface ModelRow {
  id: string;
  name: string;
  latest_version: number;
  archived_at: string | null;
}

export class VersionService {
  private readonly versions: VersionsRepository;
  private readonly locateQueries = new Map<string, PreparedLocate>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly projects: ProjectResolver,
    private readonly artifacts: ArtifactService,
    private readonly clock: Clock,
    private readonly limits: VersionServiceLimits,
    private readonly observe: RegistryObserver = {},
  ) {
    this.versions = new VersionsRepository(db);
  }

  async create(project: string, model: string, input: CreateVersionInput): Promise<ModelVersion> {
    const [created] = await this.register(project, [{ ...input, model }], {
      createModels: false,
      pathPrefix: "",
    });
    if (!created) throw new SkalaError("INTERNAL", "registration returned no version");
    return this.get(project, model, created.version);
  }

  /**
   * Registers many versions in one transaction: all of them or none. Inline artifacts are written to the
   * blob store first (content-addressed, so a failed or crashed batch leaves only unreferenced blobs for gc).
   */
  async bulkRegister(
    project: string,
    input: BulkRegisterInput,
    options: BulkRegisterOptions = {},
  ): Promise<RegisteredVersion[]> {
    if (input.versions.length > (options.maxVersions ?? this.limits.bulkMaxVersions)) {
      throw new SkalaError(
        "BULK_TOO_LARGE",
        `a bulk request may hold at most ${this.limits.bulkMaxVersions} versions, got ${input.versions.length}`,
        { max: this.limits.bulkMaxVersions, received: input.versions.length },
      );
    }
    return this.register(project, input.versions, {
      createModels: input.createModels ?? true,
      pathPrefix: "/versions",
      ...(options.inTransaction && { inTransaction: options.inTransaction }),
    });
  }

  private async register(
    project: string,
    items: BulkVersionInput[],
    options: {
      createModels: boolean;
      pathPrefix: string;
      inTransaction?: BulkRegisterOptions["inTransaction"];
    },
  ): Promise<RegisteredVersion[]> {
    const projectId = await this.projects.idOf(project);
    const at = (index: number, field: string) =>
      options.pathPrefix ? `${options.pathPrefix}/${index}/${field}` : `/${field}`;
    const artifacts = await Promise.all(
      items.map((item, index) => this.storeArtifact(item.artifact, at(index, "artifact"))),
    );
    const now = this.clock.now();
    const createdAt = now.toISOString();

    return this.db.transaction().execute(async (trx) => {
      this.observe.registrationTransactionStarted?.(items.length);
      const models = await this.lockModels(trx, projectId, [...new Set(items.map((i) => i.model))], {
        create: options.createModels,
        items,
        project,
        createdAt,
      });
      await this.checkLineage(trx, items, at);
      await this.artifacts.recordMany(
        artifacts.filter((a) => a.inline),
        trx,
      );
      const sizes = await this.artifacts.sizesOf(
        artifacts.filter((a) => !a.inline).map((a) => a.digest),
        trx,
      );
      for (const artifact of artifacts) if (!artifact.inline) artifact.size = sizes.get(artifact.digest) ?? 0;
      const nextVersion = new Map<string, number>();
      const rows: VersionRowInput[] = items.map((item, index) => {
        const model = models.get(item.model) as ModelRow;
        const version = (nextVersion.get(model.id) ?? model.latest_version) + 1;
        nextVersion.set(model.id, version);
        const artifact = artifacts[index] as { digest: string; size: number };
        const row: ModelVersionsTable = {
          id: newId("ver", now),
          model_id: model.id,
          version,
          runtime: item.runtime,
          artifact_digest: artifact.digest,
          artifact_size: artifact.size,
          signature: item.signature ? JSON.stringify(item.signature) : "",
          status: item.status ?? "ready",
          description: item.description ?? "",
          run_id: item.lineage?.runId ?? null,
          dataset_version_id: item.lineage?.datasetVersionId ?? null,
          parent_version_id: item.lineage?.parentVersionId ?? null,
          source_ref: item.lineage?.sourceRef ?? null,
          created_at: createdAt,
        };
        return { row, tags: item.tags ?? {}, params: item.params ?? {}, metrics: item.metrics ?? {} };
      });
      await this.versions.insertMany(rows, trx);
      await this.advanceLatestVersions(trx, [...nextVersion.keys()], createdAt);
      const aliasMoves = items.flatMap((item, index) =>
        (item.aliases ?? []).map((alias) => ({
          modelId: (rows[index] as VersionRowInput).row.model_id,
          alias,
          versionId: (rows[index] as VersionRowInput).row.id,
        })),
      );
      await this.moveAliases(trx, aliasMoves, "registered with alias", createdAt);
      const registered = rows.map((r, index) => ({
        id: r.row.id,
        model: (items[index] as BulkVersionInput).model,
        version: r.row.version,
        digest: r.row.artifact_digest,
      }));
      await options.inTransaction?.(trx, registered);
      return registered;
    });
  }

  /** Sets each model's latest version from its versions: one statement per chunk, whatever the batch size. */
  private async advanceLatestVersions(
    trx: Transaction<Database>,
    modelIds: string[],
    at: string,
  ): Promise<void> {
    for (let start = 0; start < modelIds.length; start += 1_000) {
      await trx
        .updateTable("registered_models")
        .set((eb) => ({
          latest_version: eb
            .selectFrom("model_versions")
            .select((inner) => inner.fn.max("model_versions.version").as("latest"))
            .whereRef("model_versions.model_id", "=", "registered_models.id"),
          updated_at: at,
        }))
        .where("id", "in", modelIds.slice(start, start + 1_000))
        .execute();
    }
  }

  private async storeArtifact(
    ref: ArtifactRef,
    path: string,
  ): Promise<{ digest: string; size: number; inline: boolean }> {
    if ("digest" in ref) return { digest: ref.digest, size: 0, inline: false };
    let bytes: Uint8Array;
    if ("base64" in ref) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(ref.base64) || ref.base64.length % 4 !== 0) {
        throw validationError([{ path: `${path}/base64`, message: "is not valid base64" }]);
      }
      bytes = Buffer.from(ref.base64, "base64");
    } else {
      bytes = Buffer.from(JSON.stringify(ref.json ?? null), "utf8");
    }
    const stored = await this.artifacts.store(bytes);
    return { digest: stored.digest, size: stored.size, inline: true };
  }

  /** Finds (and with `create`, creates) the models, locking their rows on PostgreSQL so numbering is race-free. */
  private async lockModels(
    trx: Transaction<Database>,
    projectId: string,
    names: string[],
    options: { create: boolean; items: BulkVersionInput[]; project: string; createdAt: string },
  ): Promise<Map<string, ModelRow>> {
    const found = new Map<string, ModelRow>();
    const load = async () => {
      for (let start = 0; start < names.length; start += 1_000) {
        const chunk = names.slice(start, start + 1_000);
        let q = trx
          .selectFrom("registered_models")
          .select(["id", "name", "latest_version", "archived_at"])
          .where("project_id", "=", projectId)
          .where("name", "in", chunk)
          .orderBy("id");
        if (this.limits.lockRows) q = q.forUpdate();
        for (const row of await q.execute()) found.set(row.name, row);
      }
    };
    await load();
    const missing = names.filter((name) => !found.has(name));
    if (missing.length > 0) {
      if (!options.create) {
        throw new SkalaError(
          "MODEL_NOT_FOUND",
          `model "${missing[0]}" does not exist in project "${options.project}"`,
          {
            project: options.project,
            model: missing[0],
          },
        );
      }
      const fleetOf = new Map(options.items.map((item) => [item.model, item.fleet ?? null]));
      const rows = missing.map((name) => ({
        id: newId("mdl"),
        project_id: projectId,
        name,
        description: "",
        fleet: fleetOf.get(name) ?? null,
        latest_version: 0,
        archived_at: null,
        created_at: options.createdAt,
        updated_at: options.createdAt,
      }));
      for (let start = 0; start < rows.length; start += 1_000) {
        // A concurrent request may create the same model: keep its row, then lock and number after it.
        await trx
          .insertInto("registered_models")
          .values(rows.slice(start, start + 1_000))
          .onConflict((oc) => oc.columns(["project_id", "name"]).doNothing())
          .execute();
      }
      await load();
    }
    for (const row of found.values()) {
      if (row.archived_at !== null) {
        throw new SkalaError(
          "MODEL_ARCHIVED",
          `model "${row.name}" is archived; restore it before adding versions`,
          {
            project: options.project,
            model: row.name,
          },
        );
      }
    }
    return found;
  }

  private async checkLineage(
    trx: Db,
    items: BulkVersionInput[],
    at: (index: number, field: string) => string,
  ) {
    const issues: ValidationIssue[] = [];
    const check = async (
      field: "runId" | "datasetVersionId" | "parentVersionId",
      table: "runs" | "dataset_versions" | "model_versions",
    ) => {
      const wanted = [...new Set(items.map((i) => i.lineage?.[field]).filter((v): v is string => !!v))];
      if (wanted.length === 0) return;
      const existing = new Set<string>();
      for (let start = 0; start < wanted.length; start += 1_000) {
        const rows = await trx
          .selectFrom(table)
          .select("id")
          .where("id", "in", wanted.slice(start, start + 1_000))
          .execute();
        for (const row of rows) existing.add(row.id);
      }
      items.forEach((item, index) => {
        const id = item.lineage?.[field];
        if (id && !existing.has(id))
          issues.push({ path: at(index, `lineage/${field}`), message: `"${id}" does not exist` });
      });
    };
    await check("runId", "runs");
    await check("datasetVersionId", "dataset_versions");
    await check("parentVersionId", "model_versions");
    if (issues.length > 0) throw validationError(issues);
  }

  /** Points aliases at versions and appends one history row per actual move; batched for bulk registration. */
  private async moveAliases(
    trx: Transaction<Database>,
    moves: Array<{ modelId: string; alias: string; versionId: string }>,
    reason: string,
    at: string,
  ): Promise<void> {
    if (moves.length === 0) return;
    // Within one batch the last move of an alias wins, as if the moves were applied in order.
    const finalMoves = new Map<string, { modelId: string; alias: string; versionId: string }>();
    for (const move of moves) finalMoves.set(`${move.modelId}\u0001${move.alias}`, move);
    const pending = [...finalMoves.values()];
    for (let start = 0; start < pending.length; start += 500) {
      const chunk = pending.slice(start, start + 500);
      const current = await trx
        .selectFrom("aliases")
        .select(["model_id", "alias", "version_id"])
        .where("model_id", "in", [...new Set(chunk.map((m) => m.modelId))])
        .where("alias", "in", [...new Set(chunk.map((m) => m.alias))])
        .execute();
      const before = new Map(current.map((row) => [`${row.model_id}\u0001${row.alias}`, row.version_id]));
      const changed = chunk.filter((m) => before.get(`${m.modelId}\u0001${m.alias}`) !== m.versionId);
      if (changed.length === 0) continue;
      await trx
        .insertInto("aliases")
        .values(
          changed.map((m) => ({
            model_id: m.modelId,
            alias: m.alias,
            version_id: m.versionId,
            updated_at: at,
          })),
        )
        .onConflict((oc) =>
          oc.columns(["model_id", "alias"]).doUpdateSet((eb) => ({
            version_id: eb.ref("excluded.version_id"),
            updated_at: eb.ref("excluded.updated_at"),
          })),
        )
        .execute();
      await trx
        .insertInto("alias_history")
        .values(
          changed.map((m) => ({
            model_id: m.modelId,
            alias: m.alias,
            from_version_id: before.get(`${m.modelId}\u0001${m.alias}`) ?? null,
            to_version_id: m.versionId,
            changed_at: at,
            reason,
          })),
        )
        .execute();
    }
  }

  private async modelRow(
    project: string,
    model: string,
    db: Db = this.db,
  ): Promise<ModelRow & { project_id: string }> {
    const projectId = await this.projects.idOf(project);
    const row = await db
      .selectFrom("registered_models")
      .select(["id", "name", "latest_version", "archived_at", "project_id"])
      .where("project_id", "=", projectId)
      .where("name", "=", model)
      .executeTakeFirst();
    if (!row) {
      throw new SkalaError("MODEL_NOT_FOUND", `model "${model}" does not exist in project "${project}"`, {
        project,
        model,
      });
    }
    return row;
  }

  /** Gets a version by number or alias: one lookup on the hit path; the miss path works out what was missing. */
  async get(project: string, model: string, ref: VersionRef): Promise<ModelVersion> {
    const projectId = await this.projects.idOf(project);
    const inModel = (eb: Parameters<VersionPredicate>[0]) =>
      eb.and([eb("m.project_id", "=", projectId), eb("m.name", "=", model)]);
    const where: VersionPredicate =
      typeof ref === "number"
        ? (eb) => eb.and([inModel(eb), eb("v.version", "=", ref)])
        : (eb) =>
            eb.and([
              inModel(eb),
              eb(
                "v.id",
                "=",
                eb
                  .selectFrom("aliases as a")
                  .select("a.version_id")
                  .whereRef("a.model_id", "=", "m.id")
                  .where("a.alias", "=", ref),
              ),
            ]);
    const found = await this.versions.findOne(where);
    if (found) return found;
    await this.modelRow(project, model);
    if (typeof ref === "string") {
      throw new SkalaError("ALIAS_NOT_FOUND", `alias "${ref}" is not set on model "${model}"`, {
        project,
        model,
        alias: ref,
      });
    }
    throw new SkalaError("VERSION_NOT_FOUND", `model "${model}" has no version ${ref}`, {
      project,
      model,
      version: ref,
    });
  }

  /**
   * The few facts a server needs to load a version, in one indexed query: by number, by alias, or (no ref)
   * the `defaultAlias` else the latest version. Undefined when nothing matches; `get` then says what is
   * missing. The inference server calls this on every request, so it reads no tags, params or metrics.
   */
  async locate(
    project: string,
    model: string,
    ref: VersionRef | undefined,
    defaultAlias: string,
  ): Promise<VersionLocation | undefined> {
    const projectId = await this.projects.idOf(project);
    const shape = typeof ref === "number" ? "number" : ref === undefined ? "default" : "alias";
    let prepared = this.locateQueries.get(shape);
    if (prepared === undefined) {
      prepared = this.prepareLocate(shape);
      this.locateQueries.set(shape, prepared);
    }
    const values: Record<LocateParameter, string | number> = {
      project: projectId,
      model,
      ref: ref ?? defaultAlias,
    };
    const result = await this.db.executeQuery<LocateRow>({
      ...prepared.query,
      parameters: prepared.order.map((name) => values[name]),
    });
    const row = result.rows[0];
    if (row === undefined) return undefined;
    return {
      id: row.id,
      model: row.name,
      version: row.version,
      runtime: row.runtime,
      digest: row.artifact_digest,
      size: row.artifact_size,
      status: row.status,
    };
  }

  /**
   * Builds a locate query once per shape and remembers where each value goes. Building and compiling a
   * Kysely query costs more than SQLite takes to run it, and the server runs this one per request.
   */
  private prepareLocate(shape: "number" | "alias" | "default"): PreparedLocate {
    const sentinels: Record<LocateParameter, string | number> = {
      project: "\u0001project",
      model: "\u0001model",
      ref: shape === "number" ? -918_273_645 : "\u0001ref",
    };
    const query = this.db
      .selectFrom("registered_models as m")
      .innerJoin("model_versions as v", (join) =>
        join.onRef("v.model_id", "=", "m.id").on((eb) => {
          if (shape === "number") return eb("v.version", "=", sentinels.ref as number);
          const aliased = eb
            .selectFrom("aliases as a")
            .innerJoin("model_versions as av", "av.id", "a.version_id")
            .select("av.version")
            .whereRef("a.model_id", "=", "m.id")
            .where("a.alias", "=", sentinels.ref as string);
          return shape === "alias"
            ? eb("v.version", "=", aliased)
            : eb("v.version", "=", eb.fn.coalesce(aliased, eb.ref("m.latest_version")));
        }),
      )
      .select([
        "v.id",
        "m.name",
        "v.version",
        "v.runtime",
        "v.artifact_digest",
        "v.artifact_size",
        "v.status",
      ])
      .where("m.project_id", "=", sentinels.project as string)
      .where("m.name", "=", sentinels.model as string)
      .compile();
    const names = Object.keys(sentinels) as LocateParameter[];
    const order = query.parameters.map((value) => {
      const name = names.find((n) => sentinels[n] === value);
      if (name === undefined) throw new Error(`unexpected parameter ${String(value)} in the locate query`);
      return name;
    });
    return { query, order };
  }

  /** Resolves `name@alias` or `name@3` (or plain `name`: the latest version). */
  resolve(project: string, reference: string): Promise<ModelVersion> {
    const at = reference.lastIndexOf("@");
    if (at <= 0 || at === reference.length - 1) {
      if (at === -1) return this.latest(project, reference);
      throw validationError([{ path: "/reference", message: 'expected "model@alias" or "model@version"' }]);
    }
    return this.get(project, reference.slice(0, at), parseVersionRef(reference.slice(at + 1)));
  }

  async latest(project: string, model: string): Promise<ModelVersion> {
    const projectId = await this.projects.idOf(project);
    const found = await this.versions.findOne((eb) =>
      eb.and([
        eb("m.project_id", "=", projectId),
        eb("m.name", "=", model),
        eb("v.version", "=", eb.ref("m.latest_version")),
      ]),
    );
    if (found) return found;
    await this.modelRow(project, model);
    throw new SkalaError("VERSION_NOT_FOUND", `model "${model}" has no versions`, { project, model });
  }

  async list(
    project: string,
    model: string,
    options: { limit?: number; cursor?: string; order?: "asc" | "desc" } = {},
  ): Promise<Page<ModelVersion>> {
    const modelRow = await this.modelRow(project, model);
    const order = options.order ?? "desc";
    const limit = Math.min(options.limit ?? 100, this.limits.pageSizeMax);
    const fingerprint = JSON.stringify(["versions", project, model, order]);
    const after = options.cursor ? decodeCursor(options.cursor, fingerprint) : undefined;
    const items = await this.versions.find({
      where: (eb) =>
        eb.and([
          eb("v.model_id", "=", modelRow.id),
          ...(after ? [eb("v.version", order === "asc" ? ">" : "<", Number(after.key))] : []),
        ]),
      order,
      orderBy: "version",
      limit: limit + 1,
    });
    return this.page(items, limit, fingerprint, (v) => v.version);
  }

  /** Searches versions across the project's models with the filter language (docs/reference/filter-language.md). */
  async search(
    project: string,
    options: { filter?: string; limit?: number; cursor?: string; order?: "asc" | "desc" } = {},
  ): Promise<Page<ModelVersion>> {
    const projectId = await this.projects.idOf(project);
    const order = options.order ?? "desc";
    const limit = Math.min(options.limit ?? 100, this.limits.pageSizeMax);
    const filter = options.filter?.trim() ? parseFilter(options.filter) : undefined;
    const fingerprint = JSON.stringify(["search", project, options.filter ?? "", order]);
    const after = options.cursor ? decodeCursor(options.cursor, fingerprint) : undefined;
    const items = await this.versions.search({
      projectId,
      filter,
      after: after?.id,
      order,
      limit: limit + 1,
    });
    return this.page(items, limit, fingerprint, (v) => v.id);
  }

  private page(
    items: ModelVersion[],
    limit: number,
    fingerprint: string,
    key: (v: ModelVersion) => string | number,
  ): Page<ModelVersion> {
    const hasMore = items.length > limit;
    const page = hasMore ? items.slice(0, limit) : items;
    const last = page[page.length - 1];
    return {
      items: page,
      nextCursor: hasMore && last ? encodeCursor({ key: key(last), id: last.id }, fingerprint) : null,
    };
  }

  async update(
    project: string,
    model: string,
    ref: VersionRef,
    input: UpdateVersionInput,
  ): Promise<ModelVersion> {
    const version = await this.get(project, model, ref);
    await this.db.transaction().execute((trx) => this.versions.update(version.id, input, trx));
    return this.get(project, model, version.version);
  }

  // --- aliases -------------------------------------------------------------------------------------------

  async setAlias(
    project: string,
    model: string,
    alias: string,
    input: { version: number; reason?: string },
  ): Promise<AliasAssignment> {
    const modelRow = await this.modelRow(project, model);
    if (modelRow.archived_at !== null) {
      throw new SkalaError("MODEL_ARCHIVED", `model "${model}" is archived; restore it first`, {
        project,
        model,
      });
    }
    const target = await this.get(project, model, input.version);
    const at = this.clock.now().toISOString();
    await this.db
      .transaction()
      .execute((trx) =>
        this.moveAliases(
          trx,
          [{ modelId: modelRow.id, alias, versionId: target.id }],
          input.reason ?? "",
          at,
        ),
      );
    return this.alias(project, model, alias);
  }

  async alias(project: string, model: string, alias: string): Promise<AliasAssignment> {
    const version = await this.get(project, model, alias);
    const modelRow = await this.modelRow(project, model);
    const row = await this.db
      .selectFrom("aliases")
      .select("updated_at")
      .where("model_id", "=", modelRow.id)
      .where("alias", "=", alias)
      .executeTakeFirstOrThrow();
    return { alias, version: version.version, versionId: version.id, updatedAt: row.updated_at };
  }

  async listAliases(project: string, model: string): Promise<AliasAssignment[]> {
    const modelRow = await this.modelRow(project, model);
    const rows = await this.db
      .selectFrom("aliases as a")
      .innerJoin("model_versions as v", "v.id", "a.version_id")
      .select(["a.alias", "a.updated_at", "v.version", "v.id"])
      .where("a.model_id", "=", modelRow.id)
      .orderBy("a.alias")
      .execute();
    return rows.map((r) => ({
      alias: r.alias,
      version: r.version,
      versionId: r.id,
      updatedAt: r.updated_at,
    }));
  }

  async deleteAlias(project: string, model: string, alias: string, reason = ""): Promise<void> {
    const modelRow = await this.modelRow(project, model);
    const at = this.clock.now().toISOString();
    await this.db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom("aliases")
        .select("version_id")
        .where("model_id", "=", modelRow.id)
        .where("alias", "=", alias)
        .executeTakeFirst();
      if (!current) {
        throw new SkalaError("ALIAS_NOT_FOUND", `alias "${alias}" is not set on model "${model}"`, {
          project,
          model,
          alias,
        });
      }
      await trx
        .deleteFrom("aliases")
        .where("model_id", "=", modelRow.id)
        .where("alias", "=", alias)
        .execute();
      await trx
        .insertInto("alias_history")
        .values({
          model_id: modelRow.id,
          alias,
          from_version_id: current.version_id,
          to_version_id: null,
          changed_at: at,
          reason,
        })
        .execute();
    });
  }

  async aliasHistory(project: string, model: string, alias?: string, limit = 100): Promise<AliasChange[]> {
    const modelRow = await this.modelRow(project, model);
    return this.versions.aliasHistory(modelRow.id, alias, Math.min(limit, this.limits.pageSizeMax));
  }
}
