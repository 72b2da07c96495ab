import type { Command } from "commander";
import type { ModelVersion, schemas } from "../../registry/index.js";
import type { CliContext, ClientOptions } from "../context.js";
import { readJsonFile, SIGNATURE_FILE_MAX_BYTES } from "../files.js";
import { collectMetric, collectPairs, positiveInt } from "../options.js";
import { pairs } from "../output.js";

export const VERSION_COLUMNS = [
  { header: "model", value: (v: ModelVersion) => v.model },
  { header: "version", value: (v: ModelVersion) => v.version },
  { header: "runtime", value: (v: ModelVersion) => v.runtime },
  { header: "status", value: (v: ModelVersion) => v.status },
  { header: "aliases", value: (v: ModelVersion) => v.aliases.join(",") },
  { header: "metrics", value: (v: ModelVersion) => pairs(v.metrics) },
  { header: "created", value: (v: ModelVersion) => v.createdAt },
];

interface PageOptions extends ClientOptions {
  limit?: number;
  cursor?: string;
}

interface CreateOptions extends ClientOptions {
  runtime: string;
  metric?: Record<string, number>;
  param?: Record<string, string>;
  tag?: Record<string, string>;
  signature?: string;
  run?: string;
  datasetVersion?: string;
  parent?: string;
  source?: string;
  alias?: string;
  createModel?: boolean;
}

/** `skala versions list|get|search|create`. */
export function register(program: Command, ctx: CliContext): void {
  const versions = program.command("versions").description("model versions");

  ctx
    .clientCommand(versions, "list", "list a model's versions")
    .argument("<model>")
    .option("--limit <n>", "page size", positiveInt)
    .option("--cursor <cursor>")
    .action(async (model: string, o: PageOptions) => {
      const page = await ctx.client(o).call("listVersions", {
        params: { project: o.project, model },
        query: { limit: o.limit, cursor: o.cursor },
      });
      ctx.out.rows(page.items, VERSION_COLUMNS, { json: o.json, raw: page });
    });

  ctx
    .clientCommand(versions, "get", "show a version by number or alias")
    .argument("<model>")
    .argument("<ref>", "version number or alias")
    .action(async (model: string, ref: string, o: ClientOptions) => {
      ctx.out.object(
        await ctx.client(o).call("getVersion", { params: { project: o.project, model, ref } }),
        o,
      );
    });

  ctx
    .clientCommand(
      versions,
      "search",
      "search versions by their metrics, params and tags: e.g. 'metrics.mase < 0.9 and tags.segment = \"A12\"'",
    )
    .argument("[filter]", "filter expression (docs/reference/filter-language.md)", "")
    .option("--limit <n>", "page size", positiveInt)
    .option("--cursor <cursor>")
    .action(async (filter: string, o: PageOptions) => {
      const page = await ctx.client(o).call("searchVersionsByBody", {
        params: { project: o.project },
        body: {
          filter,
          ...(o.limit && { limit: o.limit }),
          ...(o.cursor && { cursor: o.cursor }),
        },
      });
      ctx.out.rows(page.items, VERSION_COLUMNS, { json: o.json, raw: page });
      if (!o.json && page.nextCursor) ctx.out.line(`more: --cursor ${page.nextCursor}`);
    });

  ctx
    .clientCommand(versions, "create", "upload an artifact file and register it as the model's next version")
    .argument("<model>")
    .argument("<file>", "artifact file")
    .requiredOption("--runtime <runtime>", "e.g. onnx, skala.forecast")
    .option("--metric <key=value>", "metric (repeatable)", collectMetric)
    .option("--param <key=value>", "param (repeatable)", collectPairs("param"))
    .option(
      "--tag <key=value>",
      "version tag (repeatable); `versions search 'tags.key = …'` finds it",
      collectPairs("tag"),
    )
    .option("--signature <file>", "JSON file with {inputs, outputs}")
    .option("--run <id>", "lineage: run id")
    .option("--dataset-version <id>", "lineage: dataset version id")
    .option("--parent <id>", "lineage: parent version id")
    .option("--source <ref>", "lineage: source reference (e.g. git commit)")
    .option("--alias <alias>", "also point this alias at the new version")
    .option("--create-model", "create the model if it does not exist")
    .action(async (model: string, file: string, o: CreateOptions) => {
      // The signature is read before anything is uploaded, so a bad one costs no upload; the server checks
      // its shape against the schema, and names what is wrong.
      const signature =
        o.signature === undefined
          ? undefined
          : ((await readJsonFile(o.signature, "--signature", SIGNATURE_FILE_MAX_BYTES)) as schemas.Signature);
      const api = ctx.client(o);
      const { digest } = await api.upload(file);
      const lineage = {
        ...(o.run && { runId: o.run }),
        ...(o.datasetVersion && { datasetVersionId: o.datasetVersion }),
        ...(o.parent && { parentVersionId: o.parent }),
        ...(o.source && { sourceRef: o.source }),
      };
      const item = {
        model,
        runtime: o.runtime,
        artifact: { digest },
        ...(signature !== undefined && { signature }),
        ...(o.metric && { metrics: o.metric }),
        ...(o.param && { params: o.param }),
        ...(o.tag && { tags: o.tag }),
        ...(Object.keys(lineage).length > 0 && { lineage }),
        ...(o.alias && { aliases: [o.alias] }),
      };
      const created = await api.call("bulkRegisterVersions", {
        params: { project: o.project },
        body: { createModels: Boolean(o.createModel), versions: [item] },
      });
      const version = String(created.versions[0]?.version ?? "latest");
      ctx.out.object(
        await api.call("getVersion", { params: { project: o.project, model, ref: version } }),
        o,
      );
    });
}
