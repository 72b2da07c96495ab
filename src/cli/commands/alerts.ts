import { userInfo } from "node:os";
import { type Command, Option } from "commander";
import type { Alert, DeadLetter, WebhookSubscription } from "../../alerts/index.js";
import type { CliContext, ClientOptions } from "../context.js";
import { collect, integer } from "../options.js";

const ALERT_COLUMNS = [
  { header: "id", value: (a: Alert) => a.id },
  { header: "severity", value: (a: Alert) => a.severity },
  { header: "status", value: (a: Alert) => a.status },
  { header: "source", value: (a: Alert) => a.source },
  { header: "subject", value: (a: Alert) => a.subject },
  { header: "count", value: (a: Alert) => String(a.count) },
  { header: "last seen", value: (a: Alert) => a.lastSeenAt },
  { header: "title", value: (a: Alert) => a.title },
];

const WEBHOOK_COLUMNS = [
  { header: "id", value: (w: WebhookSubscription) => w.id },
  { header: "url", value: (w: WebhookSubscription) => w.url },
  { header: "severities", value: (w: WebhookSubscription) => w.severities.join(",") || "all" },
  { header: "sources", value: (w: WebhookSubscription) => w.sources.join(",") || "all" },
  { header: "enabled", value: (w: WebhookSubscription) => String(w.enabled) },
];

const DEAD_LETTER_COLUMNS = [
  { header: "id", value: (d: DeadLetter) => d.id },
  { header: "webhook", value: (d: DeadLetter) => d.webhookId },
  { header: "alert", value: (d: DeadLetter) => d.alertId },
  { header: "event", value: (d: DeadLetter) => d.event },
  { header: "attempts", value: (d: DeadLetter) => String(d.attempts) },
  {
    header: "last",
    value: (d: DeadLetter) => (d.lastStatus === null ? (d.lastError ?? "") : `HTTP ${d.lastStatus}`),
  },
  { header: "at", value: (d: DeadLetter) => d.createdAt },
  { header: "redelivery", value: (d: DeadLetter) => d.redeliveryId ?? "" },
];

type Status = "open" | "acknowledged" | "resolved";
type Severity = "info" | "warning" | "critical";

function whoAmI(): string {
  try {
    return userInfo().username || "cli";
  } catch {
    return "cli";
  }
}

/** `skala alerts list|get|ack|resolve|dead-letters|redeliver` and `skala alerts webhooks add|list|remove`. */
export function register(program: Command, ctx: CliContext): void {
  const alerts = program.command("alerts").description("the alert inbox, webhooks and dead letters");

  ctx
    .clientCommand(alerts, "list", "the inbox: unresolved alerts, most severe first")
    .addOption(
      new Option("--status <status>", "open, acknowledged, resolved (repeatable)").argParser(collect),
    )
    .addOption(new Option("--severity <severity>", "info, warning, critical (repeatable)").argParser(collect))
    .option("--source <source>")
    .option("--subject <subject>")
    .option("--limit <n>", "page size", integer)
    .option("--cursor <cursor>", "the next page, from a previous --json listing")
    .action(
      async (
        o: ClientOptions & {
          status?: string[];
          severity?: string[];
          source?: string;
          subject?: string;
          limit?: number;
          cursor?: string;
        },
      ) => {
        const page = await ctx.client(o).call("listAlerts", {
          params: { project: o.project },
          query: {
            ...(o.status && { status: o.status as Status[] }),
            ...(o.severity && { severity: o.severity as Severity[] }),
            ...(o.source && { source: o.source }),
            ...(o.subject && { subject: o.subject }),
            ...(o.limit !== undefined && { limit: o.limit }),
            ...(o.cursor && { cursor: o.cursor }),
          },
        });
        ctx.out.rows(page.items, ALERT_COLUMNS, { json: o.json, raw: page });
      },
    );

  ctx
    .clientCommand(alerts, "get", "show an alert with its evidence")
    .argument("<id>")
    .action(async (id: string, o: ClientOptions) => {
      ctx.out.object(await ctx.client(o).call("getAlert", { params: { project: o.project, id } }), o);
    });

  for (const [name, operation, description] of [
    ["ack", "acknowledgeAlert", "acknowledge an alert"],
    ["resolve", "resolveAlert", "resolve an alert"],
  ] as const) {
    ctx
      .clientCommand(alerts, name, description)
      .argument("<id>")
      .option("--by <who>", "who (default: the OS user name)")
      .option("--note <text>")
      .action(async (id: string, o: ClientOptions & { by?: string; note?: string }) => {
        const alert = await ctx.client(o).call(operation, {
          params: { project: o.project, id },
          body: { by: o.by ?? whoAmI(), ...(o.note !== undefined && { note: o.note }) },
        });
        ctx.out.object(alert, o);
      });
  }

  ctx
    .clientCommand(alerts, "dead-letters", "deliveries that failed every attempt, newest first")
    .option("--webhook <id>")
    .action(async (o: ClientOptions & { webhook?: string }) => {
      const page = await ctx.client(o).call("listDeadLetters", {
        params: { project: o.project },
        query: { ...(o.webhook && { webhook: o.webhook }) },
      });
      ctx.out.rows(page.items, DEAD_LETTER_COLUMNS, { json: o.json, raw: page });
    });

  ctx
    .clientCommand(alerts, "redeliver", "send a dead letter's message again")
    .argument("<id>", "the dead letter")
    .action(async (id: string, o: ClientOptions) => {
      ctx.out.object(
        await ctx.client(o).call("redeliverDeadLetter", { params: { project: o.project, id } }),
        o,
      );
    });

  const webhooks = alerts.command("webhooks").description("webhook subscriptions");

  ctx
    .clientCommand(webhooks, "add", "subscribe a URL; prints the signing secret once")
    .argument("<url>")
    .addOption(new Option("--severity <severity>", "deliver only these (repeatable)").argParser(collect))
    .addOption(new Option("--source <source>", "deliver only these (repeatable)").argParser(collect))
    .option("--description <text>")
    .option("--secret <secret>", "the signing secret (default: a new random one)")
    .action(
      async (
        url: string,
        o: ClientOptions & { severity?: string[]; source?: string[]; description?: string; secret?: string },
      ) => {
        const created = await ctx.client(o).call("createWebhook", {
          params: { project: o.project },
          body: {
            url,
            ...(o.severity && { severities: o.severity as Severity[] }),
            ...(o.source && { sources: o.source }),
            ...(o.description !== undefined && { description: o.description }),
            ...(o.secret !== undefined && { secret: o.secret }),
          },
        });
        ctx.out.object(created, o);
        if (!o.json) ctx.stderr.write("keep the secret: it is not shown again\n");
      },
    );

  ctx
    .clientCommand(webhooks, "list", "the project's webhook subscriptions")
    .action(async (o: ClientOptions) => {
      const list = await ctx.client(o).call("listWebhooks", { params: { project: o.project } });
      ctx.out.rows(list.items, WEBHOOK_COLUMNS, { json: o.json, raw: list });
    });

  ctx
    .clientCommand(webhooks, "remove", "remove a subscription with its deliveries and dead letters")
    .argument("<id>")
    .action(async (id: string, o: ClientOptions) => {
      await ctx.client(o).call("deleteWebhook", { params: { project: o.project, webhook: id } });
      if (o.json) ctx.out.json({});
      else ctx.out.line(`removed ${id}`);
    });
}
