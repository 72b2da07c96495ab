import { type Clock, isSkalaError, SkalaError } from "../core/index.js";
import type { RegisteredModel, Registry } from "../registry/index.js";
import { type Executor, inTransaction, type Store } from "../store/index.js";
import { ActionExecutor, type AutopilotObserver, CHAMPION, type ExecutedAction } from "./action-executor.js";
import type {
  ActionRecord,
  ApprovalRecord,
  ApprovalStatus,
  DecidedAction,
  ModelState,
} from "./autopilot.types.js";
import { decide } from "./decide.js";
import { LedgerRepository, type ListActionsFilter } from "./ledger.repository.js";
import { type Policy, policyDocument, validatePolicy } from "./policy.js";
import type { ComparePort, EvidencePort, RetrainPort } from "./ports.js";

export interface AutopilotOptions {
  store: Pick<Store, "db" | "sqlDialect">;
  registry: Pick<Registry, "versions" | "models">;
  retrain: RetrainPort;
  compare: ComparePort;
  evidence: EvidencePort;
  clock: Clock;
  /** Largest page of models, actions or approvals read at once. Default 1,000. */
  pageSize?: number;
  observer?: AutopilotObserver;
}

export interface StoredPolicy {
  readonly policy: Policy;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What one run of a policy did. */
export interface RunReport {
  readonly policy: string;
  readonly project: string;
  readonly modelsCovered: number;
  readonly actions: ExecutedAction[];
  /** Models whose state could not be read (with the error's code and message); the run went on without them. */
  readonly errors: Array<{ model: string; code: string; message: string }>;
}

/**
 * Runs policies over the models they cover: reads each model's state (registry, monitoring's evidence, the
 * ledger), lets the pure engine decide, and executes the decisions through the ledger.
 *
 * @example
 * await autopilot.putPolicy("default", "nightly", yamlValue);
 * const report = await autopilot.run("default", "nightly");
 * report.actions.map((a) => `${a.action.kind} ${a.action.model}: ${a.outcome}`);
 */
export class AutopilotService {
  private readonly ledger = new LedgerRepository();
  private readonly executor: ActionExecutor;
  private readonly db: Executor;
  private readonly pageSize: number;

  constructor(private readonly options: AutopilotOptions) {
    this.db = options.store.db;
    this.pageSize = options.pageSize ?? 1_000;
    this.executor = new ActionExecutor({
      db: options.store.db,
      sqlDialect: options.store.sqlDialect,
      registry: options.registry,
      retrain: options.retrain,
      clock: options.clock,
      ledger: this.ledger,
      ...(options.observer && { observer: options.observer }),
    });
  }

  // --- policies --------------------------------------------------------------------------------------------

  /** Validates and stores a policy (POLICY_INVALID with every problem); the name in the path wins. */
  async putPolicy(project: string, name: string, body: unknown): Promise<StoredPolicy> {
    const value =
      body !== null && typeof body === "object" && !Array.isArray(body)
        ? { ...(body as Record<string, unknown>), name, project }
        : body;
    const policy = validatePolicy(value);
    const at = this.options.clock.now().toISOString();
    const times = await this.ledger.putPolicy(
      project,
      name,
      policy.fleet ?? null,
      policyDocument(policy),
      at,
      this.db,
    );
    return { policy, ...times };
  }

  async getPolicy(project: string, name: string, db: Executor = this.db): Promise<StoredPolicy> {
    const row = await this.ledger.getPolicy(project, name, db);
    if (!row) {
      throw new SkalaError("POLICY_NOT_FOUND", `no autopilot policy "${name}" in project "${project}"`, {
        project,
        policy: name,
      });
    }
    return { policy: validatePolicy(row.body), createdAt: row.createdAt, updatedAt: row.updatedAt };
  }

  async listPolicies(project: string): Promise<Policy[]> {
    return (await this.ledger.listPolicies(project, this.db)).map((row) => validatePolicy(row.body));
  }

  // --- runs ------------------------------------------------------------------------------------------------

  /** Runs a stored policy once over every model it covers. */
  async run(project: string, name: string): Promise<RunReport> {
    return this.runPolicy((await this.getPolicy(project, name)).policy);
  }

  /** Runs every stored policy of the project once, in name order (what a periodic runner calls). */
  async runAll(project: string): Promise<RunReport[]> {
    const reports: RunReport[] = [];
    for (const policy of await this.listPolicies(project)) reports.push(await this.runPolicy(policy));
    return reports;
  }

  /** Runs a policy (stored or not) once over every model it covers. */
  async runPolicy(policy: Policy): Promise<RunReport> {
    const actions: ExecutedAction[] = [];
    const errors: RunReport["errors"] = [];
    let covered = 0;
    for await (const model of this.coveredModels(policy)) {
      covered++;
      let decided: DecidedAction[];
      try {
        decided = decide(policy, await this.stateOf(policy, model), this.options.compare);
      } catch (error) {
        if (!isSkalaError(error) || error.code === "DATABASE_BUSY" || error.code === "SERVICE_UNAVAILABLE") {
          throw error;
        }
        errors.push({ model: model.name, code: error.code, message: error.message });
        continue;
      }
      for (const action of decided) actions.push(await this.executor.execute(action, policy));
    }
    return { policy: policy.name, project: policy.project, modelsCovered: covered, actions, errors };
  }

  /** Executes decisions made elsewhere (a replay, a test): each key at most once, as in a run. */
  async execute(actions: readonly DecidedAction[], policy: Policy | null): Promise<ExecutedAction[]> {
    const done: ExecutedAction[] = [];
    for (const action of actions) done.push(await this.executor.execute(action, policy));
    return done;
  }

  /** What the engine is told about one model. */
  async stateOf(policy: Policy, model: RegisteredModel): Promise<ModelState> {
    const { versions } = this.options.registry;
    const { evidence } = this.options;
    const project = policy.project;
    const now = this.options.clock.now().toISOString();
    let champion: ModelState["champion"] = null;
    try {
      const assignment = await versions.alias(project, model.name, CHAMPION);
      const [last] = await versions.aliasHistory(project, model.name, CHAMPION, 1);
      const promotion = await this.ledger.lastSucceeded(project, model.name, ["promote"], this.db);
      const promotedOn =
        promotion && promotion.evidence.toVersion === assignment.version
          ? Number(promotion.evidence.challengerMeanError)
          : Number.NaN;
      champion = {
        version: assignment.version,
        since: assignment.updatedAt,
        previous: last?.toVersion === assignment.version ? (last.fromVersion ?? null) : null,
        promotedOnMeanError: Number.isFinite(promotedOn) ? promotedOn : null,
      };
    } catch (error) {
      if (!isSkalaError(error) || error.code !== "ALIAS_NOT_FOUND") throw error;
    }
    const challenger =
      champion && model.latestVersion > champion.version ? { version: model.latestVersion } : null;
    const errors = champion
      ? await evidence.recentErrors(project, model.name, {
          champion: champion.version,
          challenger: challenger?.version ?? null,
        })
      : null;
    const lastRetrain = await this.ledger.lastSucceeded(project, model.name, ["retrain"], this.db);
    return {
      project,
      model: model.name,
      fleet: model.fleet,
      now,
      champion,
      challenger,
      errors,
      checks: await evidence.firedChecks(project, model.name),
      newActuals: await evidence.newActuals(project, model.name, lastRetrain?.updatedAt ?? null),
      history: await this.ledger.history(project, model.name, this.db),
    };
  }

  private async *coveredModels(policy: Policy): AsyncGenerator<RegisteredModel> {
    let cursor: string | undefined;
    do {
      const page = await this.options.registry.models.list(policy.project, {
        ...(policy.fleet !== undefined && { fleet: policy.fleet }),
        limit: this.pageSize,
        ...(cursor !== undefined && { cursor }),
      });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  // --- the ledger ------------------------------------------------------------------------------------------

  async listActions(project: string, filter: Partial<ListActionsFilter> = {}): Promise<ActionRecord[]> {
    return this.ledger.listActions(
      project,
      { ...filter, limit: Math.min(filter.limit ?? 100, this.pageSize) },
      this.db,
    );
  }

  // --- approvals -------------------------------------------------------------------------------------------

  async listApprovals(
    project: string,
    filter: { status?: ApprovalStatus; model?: string; limit?: number } = {},
  ): Promise<ApprovalRecord[]> {
    await this.expireApprovals(project);
    return this.ledger.listApprovals(
      project,
      { ...filter, limit: Math.min(filter.limit ?? 100, this.pageSize) },
      this.db,
    );
  }

  async getApproval(project: string, id: string): Promise<ApprovalRecord> {
    await this.expireApprovals(project);
    return this.approvalOrThrow(project, id, this.db);
  }

  /**
   * Approves a pending request and carries out its action, in one transaction: the alias move, the executed
   * action's ledger row and the request's decision commit together. Approving twice is APPROVAL_DECIDED;
   * a champion that moved meanwhile makes the action skipped (recorded) while the request is approved.
   * A person's approval is not rate-limited: the person is the check.
   */
  async approve(
    project: string,
    id: string,
    decision: { by: string; note?: string },
  ): Promise<{ approval: ApprovalRecord; action: ActionRecord }> {
    await this.expireApprovals(project);
    return inTransaction(this.db, async (trx) => {
      const pending = await this.pendingOrThrow(project, id, trx);
      await this.executor.lockModel(trx, pending);
      const at = this.options.clock.now().toISOString();
      if (
        !(await this.ledger.decideApproval(
          id,
          { status: "approved", decidedBy: decision.by, decidedAt: at, note: decision.note ?? null },
          trx,
        ))
      ) {
        throw decided(await this.approvalOrThrow(project, id, trx));
      }
      const key = `${pending.idempotencyKey}#approved`;
      const action: DecidedAction = {
        kind: pending.action,
        project,
        model: pending.model,
        policy: pending.policy,
        key,
        reason: `approved by ${decision.by}${decision.note ? ` (${decision.note})` : ""}: ${pending.reason}`,
        evidence: { ...pending.evidence, approvalId: id, approvedBy: decision.by },
        fromVersion: pending.fromVersion,
        toVersion: pending.toVersion,
      };
      const skip = await this.executor.moveChampion(
        trx,
        pending,
        pending,
        `autopilot ${pending.action} (${pending.policy}), approved by ${decision.by}`,
      );
      const record = await this.executor.record(
        trx,
        action,
        skip === null ? "succeeded" : "skipped",
        skip ?? action.reason,
        undefined,
        {},
        id,
      );
      await this.settleRequest(trx, pending, "succeeded", `approved by ${decision.by}`);
      return { approval: await this.approvalOrThrow(project, id, trx), action: record };
    });
  }

  /** Rejects a pending request; the request's ledger row records it. */
  async reject(
    project: string,
    id: string,
    decision: { by: string; note?: string },
  ): Promise<ApprovalRecord> {
    await this.expireApprovals(project);
    return inTransaction(this.db, async (trx) => {
      const pending = await this.pendingOrThrow(project, id, trx);
      const at = this.options.clock.now().toISOString();
      if (
        !(await this.ledger.decideApproval(
          id,
          { status: "rejected", decidedBy: decision.by, decidedAt: at, note: decision.note ?? null },
          trx,
        ))
      ) {
        throw decided(await this.approvalOrThrow(project, id, trx));
      }
      await this.settleRequest(
        trx,
        pending,
        "rejected",
        `rejected by ${decision.by}${decision.note ? `: ${decision.note}` : ""}`,
      );
      return this.approvalOrThrow(project, id, trx);
    });
  }

  /** Marks pending requests past their expiry as expired (and their ledger rows); returns how many. */
  async expireApprovals(project: string): Promise<number> {
    const now = this.options.clock.now().toISOString();
    const stale = await this.ledger.expiredPending(project, now, this.db);
    let expired = 0;
    for (const approval of stale) {
      await inTransaction(this.db, async (trx) => {
        if (
          await this.ledger.decideApproval(
            approval.id,
            { status: "expired", decidedBy: null, decidedAt: now, note: null },
            trx,
          )
        ) {
          expired++;
          await this.settleRequest(
            trx,
            approval,
            "expired",
            `expired at ${approval.expiresAt} without a decision`,
          );
        }
      });
    }
    return expired;
  }

  private async settleRequest(
    trx: Executor,
    approval: ApprovalRecord,
    status: "succeeded" | "rejected" | "expired",
    because: string,
  ): Promise<void> {
    const request = await this.ledger.findAction(approval.project, approval.idempotencyKey, trx);
    if (!request) return;
    await this.ledger.updateAction(
      request.id,
      {
        status,
        reason: `${request.reason}; ${because}`,
        evidence: request.evidence,
        updatedAt: this.options.clock.now().toISOString(),
      },
      trx,
    );
  }

  private async pendingOrThrow(project: string, id: string, db: Executor): Promise<ApprovalRecord> {
    const approval = await this.approvalOrThrow(project, id, db);
    if (approval.status !== "pending") throw decided(approval);
    return approval;
  }

  private async approvalOrThrow(project: string, id: string, db: Executor): Promise<ApprovalRecord> {
    const approval = await this.ledger.getApproval(project, id, db);
    if (!approval) {
      throw new SkalaError("APPROVAL_NOT_FOUND", `no approval request "${id}" in project "${project}"`, {
        project,
        id,
      });
    }
    return approval;
  }
}

function decided(approval: ApprovalRecord): SkalaError {
  return new SkalaError(
    "APPROVAL_DECIDED",
    `approval request "${approval.id}" is ${approval.status}${approval.decidedBy ? ` (by ${approval.decidedBy})` : ""}`,
    { id: approval.id, status: approval.status },
  );
}
