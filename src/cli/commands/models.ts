import { type Command, Option } from "commander";
import type { RegisteredModel } from "../../registry/index.js";
import type { CliContext, ClientOptions } from "../context.js";
import { collect, collectPairs, positiveInt } from "../options.js";
import { pairs } from "../output.js";

const MODEL_COLUMNS = [
  { header: "name", value: (m: RegisteredModel) => m.name },
  { header: "latest", value: (m: RegisteredModel) => m.latestVersion },
  { header: "fleet", value: (m: RegisteredModel) => m.fleet },
  { header: "tags", value: (m: RegisteredModel) => pairs(m.tags) },
  { header: "archived", value: (m: RegisteredModel) => (m.archived ? "yes" : "") },
  { header: "updated", value: (m: RegisteredModel) => m.updatedAt },
];

interface ListOptions extends ClientOptions {
  prefix?: string;
  fleet?: string;
  tag?: string[];
  archived?: "exclude" | "only" | "include";
  sort?: "name" | "createdAt" | "updatedAt";
  order?: "asc" | "desc";
  limit?: number;
  cursor?: string;
}

/** `skala models list|get|create|archive|restore`. */
export function register(program: Command, ctx: CliContext): void {
  const models = program.command("models").description("registered models");

  ctx
    .clientCommand(models, "list", "list models")
    .option("--prefix <prefix>", "name prefix")
    .option("--fleet <fleet>", "fleet")
    .option("--tag <key=value>", "tag filter (repeatable)", collect)
    .addOption(new Option("--archived <which>", "archived models").choices(["exclude", "only", "include"]))
    .addOption(new Option("--sort <field>", "sort field").choices(["name", "createdAt", "updatedAt"]))
    .addOption(new Option("--order <order>", "sort order").choices(["asc", "desc"]))
    .option("--limit <n>", "page size", positiveInt)
    .option("--cursor <cursor>", "continue from a previous page")
    .action(async (o: ListOptions) => {
      const page = await ctx.client(o).call("listModels", {
        params: { project: o.project },
        query: {
          prefix: o.prefix,
          fleet: o.fleet,
          tag: o.tag,
          archived: o.archived,
          sort: o.sort,
          order: o.order,
          limit: o.limit,
          cursor: o.cursor,
        },
      });
      ctx.out.rows(page.items, MODEL_COLUMNS, { json: o.json, raw: page });
      if (!o.json && page.nextCursor) ctx.out.line(`more: --cursor ${page.nextCursor}`);
    });

  ctx
    .clientCommand(models, "get", "show a model")
    .argument("<name>")
    .action(async (name: string, o: ClientOptions) => {
      ctx.out.object(
        await ctx.client(o).call("getModel", { params: { project: o.project, model: name } }),
        o,
      );
    });

  ctx
    .clientCommand(models, "create", "create a model")
    .argument("<name>")
    .option("--description <text>")
    .option("--fleet <fleet>")
    .option(
      "--tag <key=value>",
      "model tag (repeatable); `models list --tag` filters on it",
      collectPairs("tag"),
    )
    .action(
      async (
        name: string,
        o: ClientOptions & { description?: string; fleet?: string; tag?: Record<string, string> },
      ) => {
        const body = {
          name,
          ...(o.description && { description: o.description }),
          ...(o.fleet && { fleet: o.fleet }),
          ...(o.tag && { tags: o.tag }),
        };
        ctx.out.object(await ctx.client(o).call("createModel", { params: { project: o.project }, body }), o);
      },
    );

  for (const [action, operation] of [
    ["archive", "archiveModel"],
    ["restore", "restoreModel"],
  ] as const) {
    ctx
      .clientCommand(models, action, `${action} a model`)
      .argument("<name>")
      .action(async (name: string, o: ClientOptions) => {
        ctx.out.object(
          await ctx.client(o).call(operation, { params: { project: o.project, model: name } }),
          o,
        );
      });
  }
}
