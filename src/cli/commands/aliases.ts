import type { Command } from "commander";
import type { CliContext, ClientOptions } from "../context.js";
import { positiveInt } from "../options.js";

/** `skala alias set|delete|resolve|list|history`. */
export function register(program: Command, ctx: CliContext): void {
  const alias = program.command("alias").description("aliases (champion, challenger, …)");

  ctx
    .clientCommand(alias, "set", "point an alias at a version (creates or moves it)")
    .argument("<model>")
    .argument("<alias>")
    .argument("<version>", "version number", positiveInt)
    .option("--reason <text>")
    .action(async (model: string, name: string, version: number, o: ClientOptions & { reason?: string }) => {
      const result = await ctx.client(o).call("setAlias", {
        params: { project: o.project, model, alias: name },
        body: { version, ...(o.reason && { reason: o.reason }) },
      });
      ctx.out.object(result, o);
    });

  ctx
    .clientCommand(alias, "delete", "remove an alias")
    .argument("<model>")
    .argument("<alias>")
    .action(async (model: string, name: string, o: ClientOptions) => {
      await ctx.client(o).call("deleteAlias", { params: { project: o.project, model, alias: name } });
      if (o.json) ctx.out.json({});
      else ctx.out.line(`deleted ${model}@${name}`);
    });

  ctx
    .clientCommand(alias, "resolve", "resolve model@alias to a version")
    .argument("<reference>", "model@alias or model@version")
    .action(async (reference: string, o: ClientOptions) => {
      ctx.out.object(
        await ctx.client(o).call("resolveReference", { params: { project: o.project, reference } }),
        o,
      );
    });

  ctx
    .clientCommand(alias, "list", "list a model's aliases")
    .argument("<model>")
    .action(async (model: string, o: ClientOptions) => {
      const { items } = await ctx.client(o).call("listAliases", { params: { project: o.project, model } });
      ctx.out.rows(
        items,
        [
          { header: "alias", value: (a) => a.alias },
          { header: "version", value: (a) => a.version },
          { header: "updated", value: (a) => a.updatedAt },
        ],
        o,
      );
    });

  ctx
    .clientCommand(alias, "history", "every move of a model's aliases, newest first")
    .argument("<model>")
    .option("--alias <alias>")
    .action(async (model: string, o: ClientOptions & { alias?: string }) => {
      const { items } = await ctx.client(o).call("listAliasHistory", {
        params: { project: o.project, model },
        query: { alias: o.alias },
      });
      ctx.out.rows(
        items,
        [
          { header: "alias", value: (c) => c.alias },
          { header: "from", value: (c) => c.fromVersion },
          { header: "to", value: (c) => c.toVersion },
          { header: "at", value: (c) => c.changedAt },
          { header: "reason", value: (c) => c.reason },
        ],
        o,
      );
    });
}
