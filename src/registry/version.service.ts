import { type CompiledQuery, sql, type Transaction } from "kysely";
import type { Digest } from "../artifacts/index.js";
import {
  type Clock,
  decodeCursor,
  encodeCursor,
  newId,
  SkalaError,
  type ValidationIssue,
  validationError,
} from "../core/index.js";
import {
  type Database,
  type Executor,
  inTransaction,
  type ModelVersionsTable,
  type SqlDialect,
  type Store,
} from "../store/index.js";
import type { ArtifactService } from "./artifact.service.js";
import { type ArtifactValidator, checkLoadable } from "./artifact-check.js";
import { parseFilter } from "./filter/index.js";
import { mapBounded } from "./map-bounded.js";
import type { ProjectResolver } from "./project-resolver.js";
import type {
  ArtifactRef,
  BulkRegisterInput,
  BulkVersionInput,
  CreateVersionInput,
  UpdateVersionInput,
  VersionStatus,
} from "./registry.schemas.js";
import type { AliasAssignment, AliasChange, ModelVersion, Page } from "./registry.types.js";
import { type VersionPredicate, type VersionRowInput, VersionsRepository } from "./versions.repository.js";

/**
 * Inline artifacts written to the blob store at once by one registration: enough to overlap their fsyncs,
 * few enough that a 10,000-version batch does not hold 10,000 open files and buffers.
 */
export const ARTIFACT_WRITE_CONCURRENCY = 8;

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
}

/** A version is addressed by number (`3`) or alias (`champion`); aliases never look like numbers. */
export type VersionRef = number | string;

export function parseVersionRef(ref: string): VersionRef {
  return /^[0-9]+$/.test(ref) ? Number(ref) : ref;
}

/**
 * The status a version needs to answer requests that name no version when no alias picks one: a version that
 * failed its gate (`flagged`), `failed`, `pending` or `deprecated` answers only when a person chose it (a
 * version number, an alias, a deployment route).
 */
export const DEFAULT_SERVABLE_STATUS: VersionStatus = "ready";

/**
 * The number of model `m`'s newest servable version, as SQL: walks the (model_id, version) index newest first
 * and stops at the first servable one, which is usually the latest. No bound parameters, so the prepared
 * locate query keeps its parameter order.
 */
const LATEST_SERVABLE_VERSION = sql<number>`(select sv.version from model_versions sv where sv.model_id = m.id and sv.status = ${sql.lit(DEFAULT_SERVABLE_STATUS)} order by sv.version desc limit 1)`;

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

/** An artifact as registration handles it: an uploaded blob, or the bytes an inline artifact will store. */
type ArtifactSource = { digest: Digest } | { bytes: Uint8Array };

function artifactSource(ref: ArtifactRef, path: string): ArtifactSource {
  if ("digest" in ref) return { digest: ref.digest as Digest };
  if ("base64" in ref) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(ref.base64) || ref.base64.length % 4 !== 0) {
      throw validationError([{ path: `${path}/base64`, message: "is not valid base64" }]);
    }
    return { bytes: Buffer.from(ref.base64, "base64") };
  }
  return { bytes: Buffer.from(JSON.stringify(ref.json ?? null), "utf8") };
}

export class VersionService {
  private readonly db: Executor;
  /** Reads that are not part of a caller's transaction: the store's read connection. */
  private readonly readDb: Executor;
  private readonly dialect: SqlDialect;
  private readonly versions: VersionsRepository;
  private readonly locateQueries = new Map<string, PreparedLocate>();

  constructor(
    store: Pick<Store, "db" | "readDb" | "sqlDialect">,
    private readonly projects: ProjectResolver,
    private readonly artifacts: ArtifactService,
    private readonly clock: Clock,
    private readonly limits: VersionServiceLimits,
    private readonly observe: RegistryObserver = {},
    /** Refuses versions that could never load; without one, every artifact is accepted (registry-only processes). */
    private readonly validateArtifact?: ArtifactValidator,
  ) {
    this.db = store.db;
    this.readDb = store.readDb;
    this.dialect = store.sqlDialect;
    this.versions = new VersionsRepository(store.db);
  }

  async create(
    project: string,
    model: string,
    input: CreateVersionInput,
    db: Executor = this.db,
  ): Promise<ModelVersion> {
    const [created] = await this.register(
      project,
      [{ ...input, model }],
      { createModels: false, pathPrefix: "" },
      db,
    );
    if (!created) throw new SkalaError("INTERNAL", "registration returned no version");
    return this.get(project, model, created.version, db);
  }

  /**
   * Registers many versions in one transaction: all of them or none. Inline artifacts are written to the
   * blob store first (content-addressed, so a failed or crashed batch leaves only unreferenced blobs for gc);
   * given a caller's transaction as `db`, that happens while it is open, so callers that can should write
   * their further rows in `options.inTransaction` instead.
   */
  async bulkRegister(
    project: string,
    input: BulkRegisterInput,
    options: BulkRegisterOptions = {},
    db: Executor = this.db,
  ): Promise<RegisteredVersion[]> {
    if (input.versions.length > (options.maxVersions ?? this.limits.bulkMaxVersions)) {
      throw new SkalaError(
        "BULK_TOO_LARGE",
        `a bulk request may hold at most ${this.limits.bulkMaxVersions} versions, got ${input.versions.length}`,
        { max: this.limits.bulkMaxVersions, received: input.versions.length },
      );
    }
    return this.register(
      project,
      input.versions,
      {
        createModels: input.createModels ?? true,
        pathPrefix: "/versions",
        ...(options.inTransaction && { inTransaction: options.inTransaction }),
      },
      db,
    );
  }

  private async register(
    project: string,
    items: BulkVersionInput[],
    options: {
      createModels: boolean;
      pathPrefix: string;
      inTransaction?: BulkRegisterOptions["inTransaction"];
    },
    db: Executor,
  ): Promise<RegisteredVersion[]> {
    const projectId = await this.projects.idOf(project, db);
    const at = (index: number, field: string) =>
      options.pathPrefix ? `${options.pathPrefix}/${index}/${field}` : `/${field}`;
    const sources = items.map((item, index) => artifactSource(item.artifact, at(index, "artifact")));
    if (this.validateArtifact !== undefined) {
      const checks = sources.map((source, index) => {
        const { runtime, signature } = items[index] as BulkVersionInput;
        const declared = signature === undefined ? {} : { signature };
        if ("bytes" in source) return { runtime, ...declared, read: async () => source.bytes };
        return {
          runtime,
          ...declared,
          digest: source.digest,
          read: () => this.artifacts.read(source.digest),
        };
      });
      await checkLoadable(checks, this.validateArtifact, at);
    }
    const artifacts = await mapBounded(sources, ARTIFACT_WRITE_CONCURRENCY, (source) =>
      this.storeArtifact(source),
    );
    const now = this.clock.now();
    const createdAt = now.toISOString();

    return inTransaction(db, async (trx) => {
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
    source: ArtifactSource,
  ): Promise<{ digest: string; size: number; inline: boolean }> {
    if ("digest" in source) return { digest: source.digest, size: 0, inline: false };
    const stored = await this.artifacts.store(source.bytes);
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
        const q = trx
          .selectFrom("registered_models")
          .select(["id", "name", "latest_version", "archived_at"])
          .where("project_id", "=", projectId)
          .where("name", "in", chunk)
          .orderBy("id");
        for (const row of await this.dialect.forUpdate(q).execute()) found.set(row.name, row);
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
    trx: Executor,
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
    db: Executor,
  ): Promise<ModelRow & { project_id: string }> {
    const projectId = await this.projects.idOf(project, db);
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
  async get(
    project: string,
    model: string,
    ref: VersionRef,
    db: Executor = this.readDb,
  ): Promise<ModelVersion> {
    const projectId = await this.projects.idOf(project, db);
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
    const found = await this.versions.findOne(where, db);
    if (found) return found;
    await this.modelRow(project, model, db);
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
   * the `defaultAlias` else the latest version whose status is `ready` (a flagged or failed version answers
   * only when addressed or deployed). Undefined when nothing matches; `get` then says what is missing. The
   * inference server calls this on every request, so it reads no tags, params or metrics.
   */
  async locate(
    project: string,
    model: string,
    ref: VersionRef | undefined,
    defaultAlias: string,
  ): Promise<VersionLocation | undefined> {
    const projectId = await this.projects.idOf(project, this.readDb);
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
    const result = await this.readDb.executeQuery<LocateRow>({
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
          if (shape === "alias") return eb("v.version", "=", aliased);
          return eb("v.version", "=", eb.fn.coalesce(aliased, LATEST_SERVABLE_VERSION));
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

  /**
   * The version a request that names none gets: wherever `alias` (the server's default alias, `champion`)
   * points, else the latest `ready` version. VERSION_NOT_FOUND says why when there is none: the model has no
   * versions, or none is ready (a flagged or failed version answers only when addressed or deployed).
   */
  async defaultVersion(project: string, model: string, alias: string): Promise<ModelVersion> {
    try {
      return await this.get(project, model, alias);
    } catch (error) {
      if (!(error instanceof SkalaError && error.code === "ALIAS_NOT_FOUND")) throw error;
    }
    const projectId = await this.projects.idOf(project);
    const found = await this.versions.findOne((eb) =>
      eb.and([
        eb("m.project_id", "=", projectId),
        eb("m.name", "=", model),
        eb("v.version", "=", LATEST_SERVABLE_VERSION),
      ]),
    );
    if (found) return found;
    const latest = await this.latest(project, model);
    throw new SkalaError(
      "VERSION_NOT_FOUND",
      `model "${model}" has no version to serve by default: no "${alias}" alias and no version is ` +
        `${DEFAULT_SERVABLE_STATUS} (the latest, version ${latest.version}, is ${latest.status}); address a ` +
        "version by number, set the alias or deploy it",
      { project, model, latestVersion: latest.version, latestStatus: latest.status },
    );
  }

  /** Resolves `name@alias` or `name@3` (or plain `name`: the latest version). */
  resolve(project: string, reference: string, db: Executor = this.readDb): Promise<ModelVersion> {
    const at = reference.lastIndexOf("@");
    if (at <= 0 || at === reference.length - 1) {
      if (at === -1) return this.latest(project, reference, db);
      throw validationError([{ path: "/reference", message: 'expected "model@alias" or "model@version"' }]);
    }
    return this.get(project, reference.slice(0, at), parseVersionRef(reference.slice(at + 1)), db);
  }

  async latest(project: string, model: string, db: Executor = this.readDb): Promise<ModelVersion> {
    const projectId = await this.projects.idOf(project, db);
    const found = await this.versions.findOne(
      (eb) =>
        eb.and([
          eb("m.project_id", "=", projectId),
          eb("m.name", "=", model),
          eb("v.version", "=", eb.ref("m.latest_version")),
        ]),
      db,
    );
    if (found) return found;
    await this.modelRow(project, model, db);
    throw new SkalaError("VERSION_NOT_FOUND", `model "${model}" has no versions`, { project, model });
  }

  async list(
    project: string,
    model: string,
    options: { limit?: number; cursor?: string; order?: "asc" | "desc" } = {},
    db: Executor = this.readDb,
  ): Promise<Page<ModelVersion>> {
    const modelRow = await this.modelRow(project, model, db);
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
      db,
    });
    return this.page(items, limit, fingerprint, (v) => v.version);
  }

  /** Searches versions across the project's models with the filter language (docs/reference/filter-language.md). */
  async search(
    project: string,
    options: { filter?: string; limit?: number; cursor?: string; order?: "asc" | "desc" } = {},
    db: Executor = this.readDb,
  ): Promise<Page<ModelVersion>> {
    const projectId = await this.projects.idOf(project, db);
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
      db,
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
    db: Executor = this.db,
  ): Promise<ModelVersion> {
    const version = await this.get(project, model, ref, db);
    await inTransaction(db, (trx) => this.versions.update(version.id, input, trx));
    return this.get(project, model, version.version, db);
  }

  // --- aliases -------------------------------------------------------------------------------------------

  async setAlias(
    project: string,
    model: string,
    alias: string,
    input: { version: number; reason?: string },
    db: Executor = this.db,
  ): Promise<AliasAssignment> {
    const modelRow = await this.modelRow(project, model, db);
    if (modelRow.archived_at !== null) {
      throw new SkalaError("MODEL_ARCHIVED", `model "${model}" is archived; restore it first`, {
        project,
        model,
      });
    }
    const target = await this.get(project, model, input.version, db);
    const at = this.clock.now().toISOString();
    await inTransaction(db, (trx) =>
      this.moveAliases(trx, [{ modelId: modelRow.id, alias, versionId: target.id }], input.reason ?? "", at),
    );
    return this.alias(project, model, alias, db);
  }

  async alias(
    project: string,
    model: string,
    alias: string,
    db: Executor = this.readDb,
  ): Promise<AliasAssignment> {
    const version = await this.get(project, model, alias, db);
    const modelRow = await this.modelRow(project, model, db);
    const row = await db
      .selectFrom("aliases")
      .select("updated_at")
      .where("model_id", "=", modelRow.id)
      .where("alias", "=", alias)
      .executeTakeFirstOrThrow();
    return { alias, version: version.version, versionId: version.id, updatedAt: row.updated_at };
  }

  async listAliases(project: string, model: string, db: Executor = this.readDb): Promise<AliasAssignment[]> {
    const modelRow = await this.modelRow(project, model, db);
    const rows = await db
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

  async deleteAlias(
    project: string,
    model: string,
    alias: string,
    reason = "",
    db: Executor = this.db,
  ): Promise<void> {
    const modelRow = await this.modelRow(project, model, db);
    const at = this.clock.now().toISOString();
    await inTransaction(db, async (trx) => {
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

  async aliasHistory(
    project: string,
    model: string,
    alias?: string,
    limit = 100,
    db: Executor = this.readDb,
  ): Promise<AliasChange[]> {
    const modelRow = await this.modelRow(project, model, db);
    return this.versions.aliasHistory(modelRow.id, alias, Math.min(limit, this.limits.pageSizeMax), db);
  }
}
