import { type Command, Option } from "commander";
import type { Run } from "../../registry/index.js";
import type { CliContext, ClientOptions } from "../context.js";
import { collectPairs, finiteNumber, integer } from "../options.js";
import { pairs } from "../output.js";

const RUN_COLUMNS = [
  { header: "id", value: (r: Run) => r.id },
  { header: "name", value: (r: Run) => r.name },
  { header: "status", value: (r: Run) => r.status },
  { header: "started", value: (r: Run) => r.startedAt },
  { header: "metrics", value: (r: Run) => pairs(r.latestMetrics) },
];

/** `skala runs create|list|get|log-metric|log-param|finish`. */
export function register(program: Command, ctx: CliContext): void {
  const runs = program.command("runs").description("training and evaluation runs");

  ctx
    .clientCommand(runs, "create", "start a run")
    .option("--name <name>")
    .option("--param <key=value>", "param (repeatable)", collectPairs("param"))
    .option("--source <ref>")
    .action(async (o: ClientOptions & { name?: string; param?: Record<string, string>; source?: string }) => {
      const run = await ctx.client(o).call("createRun", {
        params: { project: o.project },
        body: {
          ...(o.name && { name: o.name }),
          ...(o.param && { params: o.param }),
          ...(o.source && { sourceRef: o.source }),
        },
      });
      ctx.out.object(run, o);
    });

  ctx.clientCommand(runs, "list", "list runs, newest first").action(async (o: ClientOptions) => {
    const page = await ctx.client(o).call("listRuns", { params: { project: o.project } });
    ctx.out.rows(page.items, RUN_COLUMNS, { json: o.json, raw: page });
  });

  ctx
    .clientCommand(runs, "get", "show a run")
    .argument("<id>")
    .action(async (id: string, o: ClientOptions) => {
      ctx.out.object(await ctx.client(o).call("getRun", { params: { project: o.project, run: id } }), o);
    });

  ctx
    .clientCommand(runs, "log-metric", "log a metric value")
    .argument("<id>")
    .argument("<key>")
    .argument("<value>", "a number", (value: string) => finiteNumber(value))
    .option("--step <n>", "step", integer)
    .action(async (id: string, key: string, value: number, o: ClientOptions & { step?: number }) => {
      const result = await ctx.client(o).call("logRunMetrics", {
        params: { project: o.project, run: id },
        body: { metrics: [{ key, value, ...(o.step !== undefined && { step: o.step }) }] },
      });
      ctx.out.object(result, o);
    });

  ctx
    .clientCommand(runs, "log-param", "log a param")
    .argument("<id>")
    .argument("<key>")
    .argument("<value>")
    .action(async (id: string, key: string, value: string, o: ClientOptions) => {
      ctx.out.object(
        await ctx.client(o).call("logRunParams", {
          params: { project: o.project, run: id },
          body: { params: { [key]: value } },
        }),
        o,
      );
    });

  ctx
    .clientCommand(runs, "finish", "finish a run")
    .argument("<id>")
    .addOption(
      new Option("--status <status>", "final status")
        .choices(["finished", "failed", "killed"])
        .default("finished"),
    )
    .action(async (id: string, o: ClientOptions & { status: "finished" | "failed" | "killed" }) => {
      ctx.out.object(
        await ctx
          .client(o)
          .call("finishRun", { params: { project: o.project, run: id }, body: { status: o.status } }),
        o,
      );
    });
}
