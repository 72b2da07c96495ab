import type { Command } from "commander";
import type { CliContext, ClientOptions } from "../context.js";

/** `skala datasets register|list|versions`. */
export function register(program: Command, ctx: CliContext): void {
  const datasets = program.command("datasets").description("versioned datasets");

  ctx
    .clientCommand(datasets, "register", "upload a CSV file as the dataset's next version")
    .argument("<name>")
    .argument("<file>", "CSV file with a header row")
    .action(async (name: string, file: string, o: ClientOptions) => {
      const api = ctx.client(o);
      const { digest } = await api.upload(file);
      const version = await api.call("registerDatasetVersion", {
        params: { project: o.project, dataset: name },
        body: { digest, format: "csv" },
      });
      ctx.out.object(
        {
          ...version,
          schema: version.schema.map((c) => `${c.name}:${c.type}${c.nullable ? "?" : ""}`).join(" "),
        },
        o,
      );
    });

  ctx.clientCommand(datasets, "list", "list datasets").action(async (o: ClientOptions) => {
    const { items } = await ctx.client(o).call("listDatasets", { params: { project: o.project } });
    ctx.out.rows(
      items,
      [
        { header: "name", value: (d) => d.name },
        { header: "latest", value: (d) => d.latestVersion },
        { header: "created", value: (d) => d.createdAt },
      ],
      o,
    );
  });

  ctx
    .clientCommand(datasets, "versions", "list a dataset's versions")
    .argument("<name>")
    .action(async (name: string, o: ClientOptions) => {
      const { items } = await ctx
        .client(o)
        .call("listDatasetVersions", { params: { project: o.project, dataset: name } });
      ctx.out.rows(
        items,
        [
          { header: "version", value: (d) => d.version },
          { header: "rows", value: (d) => d.rows },
          { header: "size", value: (d) => d.size },
          { header: "digest", value: (d) => d.digest },
          { header: "id", value: (d) => d.id },
        ],
        o,
      );
    });
}
