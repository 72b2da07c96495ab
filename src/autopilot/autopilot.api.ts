import { Type } from "@sinclair/typebox";
import { defineApi } from "../core/index.js";
import { ACTION_KINDS, ACTION_STATUSES, APPROVAL_STATUSES } from "./autopilot.types.js";

/**
 * The autopilot operations under /api/v1/projects/{project}/autopilot, each named once: autopilot.routes.ts
 * registers its routes from these entries and the CLI's client takes its request and result types from them.
 */

const Name = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$" });
const PolicyName = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$" });
const Id = Type.String({ pattern: "^[A-Za-z0-9_-]{1,100}$" });
const Timestamp = Type.String({ format: "date-time" });
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const Evidence = Type.Record(Type.String(), Type.Unknown(), { description: "what the decision rested on" });
const enumOf = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
// A person's name or note: not blank, no NUL characters (which PostgreSQL text cannot hold).
const Text = (max: number) =>
  Type.String({ minLength: 1, maxLength: max, pattern: "^(?=[\\s\\S]*\\S)[^\\u0000]*$" });

export const PolicyBody = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      "a policy document (src/autopilot/README.md): rules (when: check | schedule | newData, do: retrain | " +
      "evaluate | rollback), evaluate, promote, rollback, limits, approval; every problem is answered at once " +
      "as 422 POLICY_INVALID with its path",
  },
);

const StoredPolicySchema = Type.Object(
  { name: PolicyName, policy: Type.Unknown(), createdAt: Timestamp, updatedAt: Timestamp },
  { title: "AutopilotPolicy" },
);

export const ActionSchema = Type.Object(
  {
    id: Type.String(),
    project: Type.String(),
    model: Type.String(),
    policy: Type.String(),
    kind: enumOf(ACTION_KINDS),
    idempotencyKey: Type.String(),
    status: enumOf(ACTION_STATUSES),
    reason: Type.String(),
    evidence: Evidence,
    approvalId: Type.Union([Type.String(), Type.Null()]),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: "AutopilotAction" },
);

export const ApprovalSchema = Type.Object(
  {
    id: Type.String(),
    project: Type.String(),
    model: Type.String(),
    policy: Type.String(),
    action: Type.Union([Type.Literal("promote"), Type.Literal("rollback")]),
    fromVersion: Type.Integer(),
    toVersion: Type.Integer(),
    idempotencyKey: Type.String(),
    reason: Type.String(),
    evidence: Evidence,
    status: enumOf(APPROVAL_STATUSES),
    requestedAt: Timestamp,
    expiresAt: Timestamp,
    decidedBy: Nullable(Type.String()),
    decidedAt: Nullable(Timestamp),
    note: Nullable(Type.String()),
  },
  { title: "ApprovalRequest" },
);

const RunReportSchema = Type.Object(
  {
    policy: Type.String(),
    project: Type.String(),
    modelsCovered: Type.Integer(),
    actions: Type.Array(
      Type.Object({
        outcome: enumOf(["done", "duplicate", "skipped", "requested", "failed"] as const),
        action: ActionSchema,
      }),
    ),
    errors: Type.Array(Type.Object({ model: Type.String(), code: Type.String(), message: Type.String() })),
  },
  { title: "AutopilotRunReport" },
);

const Decision = Type.Object(
  { by: Text(200), note: Type.Optional(Text(2_000)) },
  { additionalProperties: false },
);
const Limit = Type.Integer({ minimum: 1, maximum: 1_000, default: 100 });
const ProjectParams = Type.Object({ project: Name });
const PolicyParams = Type.Object({ project: Name, name: PolicyName });
const ApprovalParams = Type.Object({ project: Name, id: Id });

export const autopilotApi = defineApi({
  putAutopilotPolicy: {
    method: "PUT",
    path: "/projects/:project/autopilot/policies/:name",
    tag: "autopilot",
    summary: "Create or replace an autopilot policy",
    description: "The name and project of the path win over those in the body.",
    params: PolicyParams,
    body: PolicyBody,
    response: { 200: StoredPolicySchema },
  },
  getAutopilotPolicy: {
    method: "GET",
    path: "/projects/:project/autopilot/policies/:name",
    tag: "autopilot",
    summary: "An autopilot policy, with its defaults filled in",
    params: PolicyParams,
    response: { 200: StoredPolicySchema },
  },
  listAutopilotPolicies: {
    method: "GET",
    path: "/projects/:project/autopilot/policies",
    tag: "autopilot",
    summary: "The project's autopilot policies",
    params: ProjectParams,
    response: { 200: Type.Object({ items: Type.Array(Type.Unknown()) }) },
  },
  runAutopilotPolicy: {
    method: "POST",
    path: "/projects/:project/autopilot/policies/:name/run",
    tag: "autopilot",
    summary: "Run a policy once over the models it covers",
    description:
      "Decides for every covered model and carries out the decisions through the ledger: each action at most " +
      "once per idempotency key, within the policy's rate limits; answers what was done.",
    params: PolicyParams,
    response: { 200: RunReportSchema },
  },
  listAutopilotActions: {
    method: "GET",
    path: "/projects/:project/autopilot/actions",
    tag: "autopilot",
    summary: "The action ledger, newest first",
    params: ProjectParams,
    querystring: Type.Object({
      model: Type.Optional(Name),
      kind: Type.Optional(enumOf(ACTION_KINDS)),
      status: Type.Optional(enumOf(ACTION_STATUSES)),
      limit: Type.Optional(Limit),
    }),
    response: { 200: Type.Object({ items: Type.Array(ActionSchema) }) },
  },
  listApprovals: {
    method: "GET",
    path: "/projects/:project/autopilot/approvals",
    tag: "autopilot",
    summary: "Approval requests, newest first",
    params: ProjectParams,
    querystring: Type.Object({
      model: Type.Optional(Name),
      status: Type.Optional(enumOf(APPROVAL_STATUSES)),
      limit: Type.Optional(Limit),
    }),
    response: { 200: Type.Object({ items: Type.Array(ApprovalSchema) }) },
  },
  getApproval: {
    method: "GET",
    path: "/projects/:project/autopilot/approvals/:id",
    tag: "autopilot",
    summary: "One approval request",
    params: ApprovalParams,
    response: { 200: ApprovalSchema },
  },
  approveRequest: {
    method: "POST",
    path: "/projects/:project/autopilot/approvals/:id/approve",
    tag: "autopilot",
    summary: "Approve a pending request and carry out its action",
    description:
      "Moves the champion as proposed and records the action, in one transaction; 409 APPROVAL_DECIDED when the " +
      "request is no longer pending. Who may decide is for the governance capability to secure.",
    params: ApprovalParams,
    body: Decision,
    response: { 200: Type.Object({ approval: ApprovalSchema, action: ActionSchema }) },
  },
  rejectRequest: {
    method: "POST",
    path: "/projects/:project/autopilot/approvals/:id/reject",
    tag: "autopilot",
    summary: "Reject a pending request",
    params: ApprovalParams,
    body: Decision,
    response: { 200: ApprovalSchema },
  },
});
