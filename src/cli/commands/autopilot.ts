import type { Command } from "commander";
import {
  type ActionKind,
  type ActionStatus,
  type ApprovalStatus,
  parsePolicyText,
  policyDocument,
  policyInvalid,
} from "../../autopilot/index.js";
import type { CliContext, ClientOptions } from "../context.js";
import { readTextFile } from "../files.js";
import { positiveInt } from "../options.js";

/** `skala autopilot policy put|get|list`, `run`, `actions`, `approvals`, `approve`, `reject`. */
export function register(program: Command, ctx: CliContext): void {
  const autopilot = program
    .command("autopilot")
    .description("policies that retrain, evaluate, promote, roll back or ask a person");
  const policy = autopilot.command("policy").description("autopilot policies");

  ctx
    .clientCommand(policy, "put", "create or replace a policy from a YAML or JSON file (checked here first)")
    .argument("<file>")
    .option("--name <name>", "the policy's name (default: the file's `name`)")
    .action(async (file: string, o: ClientOptions & { name?: string }) => {
      const text = await readTextFile(file, { maxBytes: 1 << 20, what: "a policy file" });
      // Every problem at once, before anything is sent; the server checks again.
      const parsed = parsePolicyText(text);
      if (!parsed.ok) throw policyInvalid(parsed.error);
      const name = o.name ?? parsed.value.name;
      const body = { ...policyDocument(parsed.value), name, project: o.project };
      const stored = await ctx.client(o).call("putAutopilotPolicy", {
        params: { project: o.project, name },
        body,
      });
      if (o.json) ctx.out.json(stored);
      else ctx.out.line(`stored policy ${stored.name} (updated ${stored.updatedAt})`);
    });

  ctx
    .clientCommand(policy, "get", "a policy, with its defaults filled in")
    .argument("<name>")
    .action(async (name: string, o: ClientOptions) => {
      const stored = await ctx.client(o).call("getAutopilotPolicy", { params: { project: o.project, name } });
      ctx.out.json(o.json ? stored : stored.policy);
    });

  ctx.clientCommand(policy, "list", "the project's policies").action(async (o: ClientOptions) => {
    const { items } = await ctx.client(o).call("listAutopilotPolicies", { params: { project: o.project } });
    const policies = items as Array<{ name: string; fleet?: string; rules: unknown[] }>;
    ctx.out.rows(
      policies,
      [
        { header: "name", value: (p) => p.name },
        { header: "fleet", value: (p) => p.fleet ?? "(all)" },
        { header: "rules", value: (p) => p.rules.length },
      ],
      o,
    );
  });

  ctx
    .clientCommand(autopilot, "run", "run a policy once over the models it covers")
    .argument("<policy>")
    .action(async (name: string, o: ClientOptions) => {
      const report = await ctx.client(o).call("runAutopilotPolicy", { params: { project: o.project, name } });
      ctx.out.rows(
        report.actions,
        [
          { header: "model", value: (a) => a.action.model },
          { header: "action", value: (a) => a.action.kind },
          { header: "outcome", value: (a) => a.outcome },
          { header: "reason", value: (a) => a.action.reason },
        ],
        { ...o, raw: report },
      );
    });

  ctx
    .clientCommand(autopilot, "actions", "the action ledger, newest first")
    .option("--model <name>")
    .option("--kind <kind>", "retrain, evaluate, promote, rollback, request-approval")
    .option("--status <status>", "succeeded, skipped, awaiting-approval, rejected, expired, failed")
    .option("--limit <n>", "at most this many", positiveInt)
    .action(async (o: ClientOptions & { model?: string; kind?: string; status?: string; limit?: number }) => {
      const { items } = await ctx.client(o).call("listAutopilotActions", {
        params: { project: o.project },
        query: {
          model: o.model,
          kind: o.kind as ActionKind | undefined,
          status: o.status as ActionStatus | undefined,
          limit: o.limit,
        },
      });
      ctx.out.rows(
        items,
        [
          { header: "at", value: (a) => a.updatedAt },
          { header: "model", value: (a) => a.model },
          { header: "action", value: (a) => a.kind },
          { header: "status", value: (a) => a.status },
          { header: "reason", value: (a) => a.reason },
        ],
        o,
      );
    });

  ctx
    .clientCommand(autopilot, "approvals", "approval requests, newest first")
    .option("--status <status>", "pending, approved, rejected, expired")
    .option("--model <name>")
    .action(async (o: ClientOptions & { status?: string; model?: string }) => {
      const { items } = await ctx.client(o).call("listApprovals", {
        params: { project: o.project },
        query: { status: o.status as ApprovalStatus | undefined, model: o.model },
      });
      ctx.out.rows(
        items,
        [
          { header: "id", value: (a) => a.id },
          { header: "model", value: (a) => a.model },
          { header: "proposed", value: (a) => `${a.action} ${a.fromVersion} → ${a.toVersion}` },
          { header: "status", value: (a) => a.status },
          { header: "expires", value: (a) => a.expiresAt },
        ],
        o,
      );
    });

  for (const [verb, operation] of [
    ["approve", "approveRequest"],
    ["reject", "rejectRequest"],
  ] as const) {
    ctx
      .clientCommand(
        autopilot,
        verb,
        `${verb} a pending request${verb === "approve" ? " and carry it out" : ""}`,
      )
      .argument("<id>")
      .requiredOption("--by <name>", "who decides")
      .option("--note <text>")
      .action(async (id: string, o: ClientOptions & { by: string; note?: string }) => {
        const result = await ctx.client(o).call(operation, {
          params: { project: o.project, id },
          body: { by: o.by, ...(o.note !== undefined && { note: o.note }) },
        });
        if (o.json) ctx.out.json(result);
        else ctx.out.line(`${verb === "approve" ? "approved" : "rejected"} ${id}`);
      });
  }
}
