import { readFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import { isSkalaError, loadConfig, SETTINGS, type SettingKey, type SkalaConfig } from "../core/index.js";
import { type FleetProgress, type FleetReport, type FleetRun, formatReport } from "../fleets/index.js";
import type {
  AliasAssignment,
  AliasChange,
  DatasetVersion,
  Deployment,
  DeploymentRoute,
  EnvironmentName,
  ModelVersion,
  Page,
  RegisteredModel,
  Run,
} from "../registry/index.js";
import { pendingMigrations } from "../store/index.js";
import { ClientError, SkalaClient } from "./client.js";
import { openServices, startServer } from "./compose.js";
import { trainFleet } from "./fleet-commands.js";
import { printObject, printRows } from "./output.js";
import { addScoreCommand } from "./score-commands.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

function keyValues(pairs: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new InvalidArgumentError(`${what} "${pair}" must look like key=value`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

function numericValues(pairs: string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(keyValues(pairs, "metric"))) {
    const number = Number(value);
    if (value.trim() === "" || !Number.isFinite(number))
      throw new InvalidArgumentError(`metric ${key}=${value} is not a number`);
    out[key] = number;
  }
  return out;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return n;
}

function environmentName(value: string): EnvironmentName {
  if (value === "dev" || value === "test" || value === "prod") return value;
  throw new InvalidArgumentError(`"${value}" is not an environment (dev, test or prod)`);
}

/** `--route champion=90`, repeatable; the server checks that targets exist and weights sum to 100. */
function collectRoute(value: string, previous: DeploymentRoute[]): DeploymentRoute[] {
  const match = /^([^=]+)=(\d{1,3})$/.exec(value);
  if (match === null) throw new InvalidArgumentError(`"${value}" is not target=weight (e.g. champion=90)`);
  return [...previous, { target: match[1] as string, weight: Number(match[2]) }];
}

const camelCase = (flag: string) =>
  flag.replace(/^--/, "").replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Every setting is also a flag of `up`, `migrate` and `gc`; names and env variables come from SETTINGS. */
function addServerOptions(command: Command): Command {
  command.option("--config <file>", "config file (default ./skala.config.json when present)");
  for (const setting of SETTINGS)
    command.option(`${setting.flag} <value>`, `${setting.doc} (${setting.env})`);
  return command;
}

function configFrom(options: Record<string, unknown>, env: NodeJS.ProcessEnv): SkalaConfig {
  const flags: Partial<Record<SettingKey, unknown>> = {};
  for (const setting of SETTINGS) flags[setting.key] = options[camelCase(setting.flag)];
  return loadConfig({
    flags,
    env,
    ...(typeof options.config === "string" && { configFile: options.config }),
  });
}

interface ClientOptions {
  server: string;
  project: string;
  json: boolean;
}

const MODEL_COLUMNS = [
  { header: "name", value: (m: RegisteredModel) => m.name },
  { header: "latest", value: (m: RegisteredModel) => m.latestVersion },
  { header: "fleet", value: (m: RegisteredModel) => m.fleet },
  {
    header: "tags",
    value: (m: RegisteredModel) =>
      Object.entries(m.tags)
        .map(([k, v]) => `${k}=${v}`)
        .join(" "),
  },
  { header: "archived", value: (m: RegisteredModel) => (m.archived ? "yes" : "") },
  { header: "updated", value: (m: RegisteredModel) => m.updatedAt },
];
const VERSION_COLUMNS = [
  { header: "model", value: (v: ModelVersion) => v.model },
  { header: "version", value: (v: ModelVersion) => v.version },
  { header: "runtime", value: (v: ModelVersion) => v.runtime },
  { header: "status", value: (v: ModelVersion) => v.status },
  { header: "aliases", value: (v: ModelVersion) => v.aliases.join(",") },
  {
    header: "metrics",
    value: (v: ModelVersion) =>
      Object.entries(v.metrics)
        .map(([k, x]) => `${k}=${x}`)
        .join(" "),
  },
  { header: "created", value: (v: ModelVersion) => v.createdAt },
];
const RUN_COLUMNS = [
  { header: "id", value: (r: Run) => r.id },
  { header: "name", value: (r: Run) => r.name },
  { header: "status", value: (r: Run) => r.status },
  { header: "started", value: (r: Run) => r.startedAt },
  {
    header: "metrics",
    value: (r: Run) =>
      Object.entries(r.latestMetrics)
        .map(([k, x]) => `${k}=${x}`)
        .join(" "),
  },
];

export function buildProgram(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command("skala")
    .description("Operate a thousand models like one.")
    .showHelpAfterError()
    .exitOverride();

  addServerOptions(
    program.command("up").description("start the Skala server on embedded defaults (SQLite, local files)"),
  )
    .option(
      "--train <spec>",
      "after start, train this fleet spec (skipped when the same spec and data already ran)",
    )
    .action(async (options: Record<string, unknown>) => {
      const config = configFrom(options, env);
      const { app, url } = await startServer(config);
      process.stdout.write(
        `Skala is up at ${url}  (API docs: ${url}/api/docs, data: ${config.resolved.dataDir})\n`,
      );
      const stopped = new Promise<void>((resolve) => {
        const stop = () => {
          app.close().then(resolve, resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      if (typeof options.train === "string") {
        const result = await trainFleet(
          new SkalaClient(url),
          options.train,
          { project: "default", wait: true },
          (line) => process.stdout.write(`${line}\n`),
        ).catch(async (error: unknown) => {
          await app.close(); // a spec that fails to train must not leave the server running behind the error
          throw error;
        });
        if (result.report) process.stdout.write(`${formatReport(result.report)}\n`);
        process.stdout.write(
          `Skala keeps serving at ${url}; try: npx skala models list --fleet ${result.run.fleet}\n`,
        );
      }
      await stopped;
    });

  addServerOptions(
    program.command("migrate").description("apply pending database migrations and exit"),
  ).action(async (options: Record<string, unknown>) => {
    const services = await openServices(configFrom(options, env), { migrate: true });
    const pending = await pendingMigrations(services.store);
    process.stdout.write(`migrations applied; pending: ${pending.length}\n`);
    await services.close();
  });

  addServerOptions(program.command("gc").description("remove artifact blobs that nothing references"))
    .option("--dry-run", "report what would be removed, remove nothing")
    .option("--json", "print JSON")
    .action(async (options: Record<string, unknown>) => {
      const config = configFrom(options, env);
      const services = await openServices(config);
      try {
        const report = await services.registry.artifacts.collectGarbage({
          graceSeconds: config.gc.graceSeconds,
          dryRun: Boolean(options.dryRun),
        });
        printObject({ ...report }, { json: Boolean(options.json) });
      } finally {
        await services.close();
      }
    });

  const clientCommand = (parent: Command, name: string, description: string) =>
    parent
      .command(name)
      .description(description)
      .option("--server <url>", "Skala server", "http://127.0.0.1:7070")
      .option("--project <name>", "project", "default")
      .option("--json", "print JSON instead of a table", false);
  const client = (o: ClientOptions) => new SkalaClient(o.server);
  const base = (o: ClientOptions) => `/api/v1/projects/${encodeURIComponent(o.project)}`;
  const q = (params: Record<string, string | number | undefined | string[]>) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (Array.isArray(value)) for (const v of value) search.append(key, v);
      else if (value !== undefined) search.set(key, String(value));
    }
    const text = search.toString();
    return text ? `?${text}` : "";
  };

  // --- models
  const models = program.command("models").description("registered models");
  clientCommand(models, "list", "list models")
    .option("--prefix <prefix>", "name prefix")
    .option("--fleet <fleet>", "fleet")
    .option("--tag <key=value>", "tag filter (repeatable)", collect)
    .addOption(new Option("--archived <which>", "archived models").choices(["exclude", "only", "include"]))
    .addOption(new Option("--sort <field>", "sort field").choices(["name", "createdAt", "updatedAt"]))
    .addOption(new Option("--order <order>", "sort order").choices(["asc", "desc"]))
    .option("--limit <n>", "page size", positiveInt)
    .option("--cursor <cursor>", "continue from a previous page")
    .action(async (o: ClientOptions & Record<string, string | string[] | number | undefined>) => {
      const page = await client(o).request<Page<RegisteredModel>>(
        "GET",
        `${base(o)}/models${q({ prefix: o.prefix as string, fleet: o.fleet as string, tag: o.tag as string[], archived: o.archived as string, sort: o.sort as string, order: o.order as string, limit: o.limit as number, cursor: o.cursor as string })}`,
      );
      printRows(page.items, MODEL_COLUMNS, { json: o.json, raw: page });
      if (!o.json && page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
    });
  clientCommand(models, "get", "show a model")
    .argument("<name>")
    .action(async (name: string, o: ClientOptions) => {
      printObject(
        {
          ...(await client(o).request<RegisteredModel>(
            "GET",
            `${base(o)}/models/${encodeURIComponent(name)}`,
          )),
        },
        o,
      );
    });
  clientCommand(models, "create", "create a model")
    .argument("<name>")
    .option("--description <text>")
    .option("--fleet <fleet>")
    .option("--tag <key=value>", "tag (repeatable)", collect)
    .action(
      async (name: string, o: ClientOptions & { description?: string; fleet?: string; tag?: string[] }) => {
        const body = {
          name,
          ...(o.description && { description: o.description }),
          ...(o.fleet && { fleet: o.fleet }),
          ...(o.tag && { tags: keyValues(o.tag, "tag") }),
        };
        printObject({ ...(await client(o).request<RegisteredModel>("POST", `${base(o)}/models`, body)) }, o);
      },
    );
  for (const action of ["archive", "restore"] as const) {
    clientCommand(models, action, `${action} a model`)
      .argument("<name>")
      .action(async (name: string, o: ClientOptions) => {
        printObject(
          {
            ...(await client(o).request<RegisteredModel>(
              "POST",
              `${base(o)}/models/${encodeURIComponent(name)}/${action}`,
            )),
          },
          o,
        );
      });
  }

  // --- versions
  const versions = program.command("versions").description("model versions");
  clientCommand(versions, "list", "list a model's versions")
    .argument("<model>")
    .option("--limit <n>", "page size", positiveInt)
    .option("--cursor <cursor>")
    .action(async (model: string, o: ClientOptions & { limit?: number; cursor?: string }) => {
      const page = await client(o).request<Page<ModelVersion>>(
        "GET",
        `${base(o)}/models/${encodeURIComponent(model)}/versions${q({ limit: o.limit, cursor: o.cursor })}`,
      );
      printRows(page.items, VERSION_COLUMNS, { json: o.json, raw: page });
    });
  clientCommand(versions, "get", "show a version by number or alias")
    .argument("<model>")
    .argument("<ref>", "version number or alias")
    .action(async (model: string, ref: string, o: ClientOptions) => {
      printObject(
        {
          ...(await client(o).request<ModelVersion>(
            "GET",
            `${base(o)}/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(ref)}`,
          )),
        },
        o,
      );
    });
  clientCommand(versions, "search", "search versions: e.g. 'metrics.mase < 0.9 and tags.segment = \"A12\"'")
    .argument("[filter]", "filter expression (docs/reference/filter-language.md)", "")
    .option("--limit <n>", "page size", positiveInt)
    .option("--cursor <cursor>")
    .action(async (filter: string, o: ClientOptions & { limit?: number; cursor?: string }) => {
      const page = await client(o).request<Page<ModelVersion>>("POST", `${base(o)}/versions/search`, {
        filter,
        ...(o.limit && { limit: o.limit }),
        ...(o.cursor && { cursor: o.cursor }),
      });
      printRows(page.items, VERSION_COLUMNS, { json: o.json, raw: page });
      if (!o.json && page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
    });
  clientCommand(versions, "create", "upload an artifact file and register it as the model's next version")
    .argument("<model>")
    .argument("<file>", "artifact file")
    .requiredOption("--runtime <runtime>", "e.g. onnx, skala.forecast")
    .option("--metric <key=value>", "metric (repeatable)", collect)
    .option("--param <key=value>", "param (repeatable)", collect)
    .option("--tag <key=value>", "tag (repeatable)", collect)
    .option("--signature <file>", "JSON file with {inputs, outputs}")
    .option("--run <id>", "lineage: run id")
    .option("--dataset-version <id>", "lineage: dataset version id")
    .option("--parent <id>", "lineage: parent version id")
    .option("--source <ref>", "lineage: source reference (e.g. git commit)")
    .option("--alias <alias>", "also point this alias at the new version")
    .option("--create-model", "create the model if it does not exist")
    .action(
      async (
        model: string,
        file: string,
        o: ClientOptions & Record<string, string | string[] | boolean | undefined>,
      ) => {
        const api = client(o);
        const { digest } = await api.upload(file);
        const signature = o.signature
          ? (JSON.parse(await readFile(o.signature as string, "utf8")) as unknown)
          : undefined;
        const lineage = {
          ...(o.run && { runId: o.run as string }),
          ...(o.datasetVersion && { datasetVersionId: o.datasetVersion as string }),
          ...(o.parent && { parentVersionId: o.parent as string }),
          ...(o.source && { sourceRef: o.source as string }),
        };
        const item = {
          model,
          runtime: o.runtime as string,
          artifact: { digest },
          ...(signature !== undefined && { signature }),
          ...(o.metric && { metrics: numericValues(o.metric as string[]) }),
          ...(o.param && { params: keyValues(o.param as string[], "param") }),
          ...(o.tag && { tags: keyValues(o.tag as string[], "tag") }),
          ...(Object.keys(lineage).length > 0 && { lineage }),
          ...(o.alias && { aliases: [o.alias as string] }),
        };
        const created = await api.request<{ versions: Array<{ model: string; version: number }> }>(
          "POST",
          `${base(o)}/bulk/versions`,
          { createModels: Boolean(o.createModel), versions: [item] },
        );
        const first = created.versions[0];
        const version = await api.request<ModelVersion>(
          "GET",
          `${base(o)}/models/${encodeURIComponent(model)}/versions/${first?.version}`,
        );
        printObject({ ...version }, o as ClientOptions);
      },
    );

  // --- aliases
  const alias = program.command("alias").description("aliases (champion, challenger, …)");
  clientCommand(alias, "set", "point an alias at a version (creates or moves it)")
    .argument("<model>")
    .argument("<alias>")
    .argument("<version>", "version number", positiveInt)
    .option("--reason <text>")
    .action(async (model: string, name: string, version: number, o: ClientOptions & { reason?: string }) => {
      const result = await client(o).request<AliasAssignment>(
        "PUT",
        `${base(o)}/models/${encodeURIComponent(model)}/aliases/${encodeURIComponent(name)}`,
        { version, ...(o.reason && { reason: o.reason }) },
      );
      printObject({ ...result }, o);
    });
  clientCommand(alias, "delete", "remove an alias")
    .argument("<model>")
    .argument("<alias>")
    .action(async (model: string, name: string, o: ClientOptions) => {
      await client(o).request(
        "DELETE",
        `${base(o)}/models/${encodeURIComponent(model)}/aliases/${encodeURIComponent(name)}`,
      );
      if (o.json) process.stdout.write("{}\n");
      else process.stdout.write(`deleted ${model}@${name}\n`);
    });
  clientCommand(alias, "resolve", "resolve model@alias to a version")
    .argument("<reference>", "model@alias or model@version")
    .action(async (reference: string, o: ClientOptions) => {
      printObject(
        {
          ...(await client(o).request<ModelVersion>(
            "GET",
            `${base(o)}/resolve/${encodeURIComponent(reference)}`,
          )),
        },
        o,
      );
    });
  clientCommand(alias, "list", "list a model's aliases")
    .argument("<model>")
    .action(async (model: string, o: ClientOptions) => {
      const { items } = await client(o).request<{ items: AliasAssignment[] }>(
        "GET",
        `${base(o)}/models/${encodeURIComponent(model)}/aliases`,
      );
      printRows(
        items,
        [
          { header: "alias", value: (a) => a.alias },
          { header: "version", value: (a) => a.version },
          { header: "updated", value: (a) => a.updatedAt },
        ],
        o,
      );
    });
  clientCommand(alias, "history", "every move of a model's aliases, newest first")
    .argument("<model>")
    .option("--alias <alias>")
    .action(async (model: string, o: ClientOptions & { alias?: string }) => {
      const { items } = await client(o).request<{ items: AliasChange[] }>(
        "GET",
        `${base(o)}/models/${encodeURIComponent(model)}/alias-history${q({ alias: o.alias })}`,
      );
      printRows(
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

  // --- deployments
  const deploy = program
    .command("deploy")
    .description("deployments: how an environment routes a model's traffic (split, shadow, pinning)");
  const envOption = (command: Command) =>
    command.option("--env <environment>", "dev, test or prod", environmentName, "prod" as EnvironmentName);
  const deploymentPath = (o: ClientOptions & { env: EnvironmentName }, model?: string) =>
    `${base(o)}/environments/${o.env}/deployments${model === undefined ? "" : `/${encodeURIComponent(model)}`}`;
  const describeRoutes = (d: Deployment) => d.routes.map((r) => `${r.target} ${r.weight}%`).join(", ");
  envOption(clientCommand(deploy, "set", "route a model's traffic in an environment (creates or replaces)"))
    .argument("<model>")
    .requiredOption(
      "--route <target=weight>",
      "alias or version and its share in percent; repeat to split (weights sum to 100)",
      collectRoute,
      [] as DeploymentRoute[],
    )
    .option("--shadow <target>", "alias or version that gets a copy of every request (answers logged only)")
    .option("--pin", "keep the routed versions loaded (default in prod)")
    .option("--no-pin", "let the routed versions be evicted")
    .action(
      async (
        model: string,
        o: ClientOptions & { env: EnvironmentName; route: DeploymentRoute[]; shadow?: string; pin?: boolean },
      ) => {
        const result = await client(o).request<Deployment>("PUT", deploymentPath(o, model), {
          routes: o.route,
          ...(o.shadow !== undefined && { shadow: o.shadow }),
          ...(o.pin !== undefined && { pinned: o.pin }),
        });
        printObject({ ...result, routes: describeRoutes(result) }, o);
      },
    );
  envOption(clientCommand(deploy, "get", "show a model's deployment in an environment"))
    .argument("<model>")
    .action(async (model: string, o: ClientOptions & { env: EnvironmentName }) => {
      const result = await client(o).request<Deployment>("GET", deploymentPath(o, model));
      printObject({ ...result, routes: describeRoutes(result) }, o);
    });
  envOption(clientCommand(deploy, "list", "list an environment's deployments")).action(
    async (o: ClientOptions & { env: EnvironmentName }) => {
      const { items } = await client(o).request<{ items: Deployment[] }>("GET", deploymentPath(o));
      printRows(
        items,
        [
          { header: "model", value: (d) => d.model },
          { header: "routes", value: describeRoutes },
          { header: "shadow", value: (d) => d.shadow ?? "" },
          { header: "pinned", value: (d) => (d.pinned ? "yes" : "no") },
          { header: "updated", value: (d) => d.updatedAt },
        ],
        o,
      );
    },
  );
  envOption(clientCommand(deploy, "delete", "remove a model's deployment (the champion answers again)"))
    .argument("<model>")
    .action(async (model: string, o: ClientOptions & { env: EnvironmentName }) => {
      await client(o).request("DELETE", deploymentPath(o, model));
      if (o.json) process.stdout.write("{}\n");
      else process.stdout.write(`deleted the deployment of ${model} in ${o.env}\n`);
    });

  // --- runs
  const runs = program.command("runs").description("training and evaluation runs");
  clientCommand(runs, "create", "start a run")
    .option("--name <name>")
    .option("--param <key=value>", "param (repeatable)", collect)
    .option("--source <ref>")
    .action(async (o: ClientOptions & { name?: string; param?: string[]; source?: string }) => {
      const run = await client(o).request<Run>("POST", `${base(o)}/runs`, {
        ...(o.name && { name: o.name }),
        ...(o.param && { params: keyValues(o.param, "param") }),
        ...(o.source && { sourceRef: o.source }),
      });
      printObject({ ...run }, o);
    });
  clientCommand(runs, "list", "list runs, newest first").action(async (o: ClientOptions) => {
    const page = await client(o).request<Page<Run>>("GET", `${base(o)}/runs`);
    printRows(page.items, RUN_COLUMNS, { json: o.json, raw: page });
  });
  clientCommand(runs, "get", "show a run")
    .argument("<id>")
    .action(async (id: string, o: ClientOptions) => {
      printObject(
        { ...(await client(o).request<Run>("GET", `${base(o)}/runs/${encodeURIComponent(id)}`)) },
        o,
      );
    });
  clientCommand(runs, "log-metric", "log a metric value")
    .argument("<id>")
    .argument("<key>")
    .argument("<value>")
    .option("--step <n>", "step", (v) => Number.parseInt(v, 10))
    .action(async (id: string, key: string, value: string, o: ClientOptions & { step?: number }) => {
      const metric = numericValues([`${key}=${value}`]);
      const result = await client(o).request<{ logged: number }>(
        "POST",
        `${base(o)}/runs/${encodeURIComponent(id)}/metrics`,
        {
          metrics: [{ key, value: metric[key], ...(o.step !== undefined && { step: o.step }) }],
        },
      );
      printObject({ ...result }, o);
    });
  clientCommand(runs, "log-param", "log a param")
    .argument("<id>")
    .argument("<key>")
    .argument("<value>")
    .action(async (id: string, key: string, value: string, o: ClientOptions) => {
      printObject(
        {
          ...(await client(o).request<Run>("POST", `${base(o)}/runs/${encodeURIComponent(id)}/params`, {
            params: { [key]: value },
          })),
        },
        o,
      );
    });
  clientCommand(runs, "finish", "finish a run")
    .argument("<id>")
    .addOption(
      new Option("--status <status>", "final status")
        .choices(["finished", "failed", "killed"])
        .default("finished"),
    )
    .action(async (id: string, o: ClientOptions & { status: string }) => {
      printObject(
        {
          ...(await client(o).request<Run>("POST", `${base(o)}/runs/${encodeURIComponent(id)}/finish`, {
            status: o.status,
          })),
        },
        o,
      );
    });

  // --- datasets
  const datasets = program.command("datasets").description("versioned datasets");
  clientCommand(datasets, "register", "upload a CSV file as the dataset's next version")
    .argument("<name>")
    .argument("<file>")
    .action(async (name: string, file: string, o: ClientOptions) => {
      const api = client(o);
      const { digest } = await api.upload(file);
      const version = await api.request<DatasetVersion>(
        "POST",
        `${base(o)}/datasets/${encodeURIComponent(name)}/versions`,
        {
          digest,
          format: "csv",
        },
      );
      printObject(
        {
          ...version,
          schema: version.schema.map((c) => `${c.name}:${c.type}${c.nullable ? "?" : ""}`).join(" "),
        },
        o,
      );
    });
  clientCommand(datasets, "list", "list datasets").action(async (o: ClientOptions) => {
    const { items } = await client(o).request<{
      items: Array<{ name: string; latestVersion: number; createdAt: string }>;
    }>("GET", `${base(o)}/datasets`);
    printRows(
      items,
      [
        { header: "name", value: (d) => d.name },
        { header: "latest", value: (d) => d.latestVersion },
        { header: "created", value: (d) => d.createdAt },
      ],
      o,
    );
  });
  clientCommand(datasets, "versions", "list a dataset's versions")
    .argument("<name>")
    .action(async (name: string, o: ClientOptions) => {
      const { items } = await client(o).request<{ items: DatasetVersion[] }>(
        "GET",
        `${base(o)}/datasets/${encodeURIComponent(name)}/versions`,
      );
      printRows(
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

  // --- fleets
  const fleet = program.command("fleet").description("fleets: one spec trained over thousands of segments");
  const fleetPath = (o: ClientOptions, name: string) => `${base(o)}/fleets/${encodeURIComponent(name)}`;
  clientCommand(fleet, "train", "validate a fleet spec, upload its dataset, train and register every segment")
    .argument("<spec>", "fleet spec file (YAML or JSON; docs/reference/fleet-spec.md)")
    .option("--no-wait", "submit and return without following progress")
    .option("--chunk-size <n>", "segments per job", positiveInt)
    .action(async (specPath: string, o: ClientOptions & { wait: boolean; chunkSize?: number }) => {
      const result = await trainFleet(
        client(o),
        specPath,
        { project: o.project, wait: o.wait, ...(o.chunkSize && { chunkSize: o.chunkSize }) },
        (line) => {
          if (!o.json) process.stdout.write(`${line}\n`);
        },
      );
      if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else if (result.report) process.stdout.write(`${formatReport(result.report)}\n`);
      if (result.run.status === "failed" || result.run.status === "cancelled") {
        throw new ClientError(
          "FLEET_RUN_FAILED",
          `fleet run ${result.run.id} ended ${result.run.status}: ${result.run.error ?? ""}`,
          0,
        );
      }
    });
  clientCommand(fleet, "status", "progress of a fleet's latest (or given) run")
    .argument("<name>")
    .option("--run <id>")
    .action(async (name: string, o: ClientOptions & { run?: string }) => {
      const progress = await client(o).request<FleetProgress>(
        "GET",
        `${fleetPath(o, name)}${q({ run: o.run })}`,
      );
      printObject(
        o.json
          ? { ...progress }
          : {
              run: progress.run.id,
              status: progress.run.status,
              done: `${progress.done}/${progress.run.total}`,
              registered: progress.registered,
              failed: progress.failed,
              rate: `${progress.rate.toFixed(1)} segments/s`,
              eta: progress.etaSeconds === null ? "" : `${Math.ceil(progress.etaSeconds)} s`,
              error: progress.run.error,
            },
        o,
      );
    });
  clientCommand(fleet, "report", "a fleet run's report: metric distributions, winners, failures, resources")
    .argument("<name>")
    .option("--run <id>")
    .action(async (name: string, o: ClientOptions & { run?: string }) => {
      const report = await client(o).request<FleetReport>(
        "GET",
        `${fleetPath(o, name)}/report${q({ run: o.run })}`,
      );
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    });
  clientCommand(fleet, "cancel", "cancel a fleet's running run")
    .argument("<name>")
    .option("--run <id>")
    .action(async (name: string, o: ClientOptions & { run?: string }) => {
      printObject(
        {
          ...(await client(o).request<FleetRun>("POST", `${fleetPath(o, name)}/cancel${q({ run: o.run })}`)),
        },
        o,
      );
    });
  clientCommand(fleet, "list", "fleets of the project").action(async (o: ClientOptions) => {
    const { items } = await client(o).request<{ items: Array<{ name: string; latestRun: FleetRun | null }> }>(
      "GET",
      `${base(o)}/fleets`,
    );
    printRows(
      items,
      [
        { header: "fleet", value: (f) => f.name },
        { header: "run", value: (f) => f.latestRun?.id },
        { header: "status", value: (f) => f.latestRun?.status },
        { header: "segments", value: (f) => f.latestRun?.total },
      ],
      o,
    );
  });

  // --- batch scoring
  addScoreCommand(program, clientCommand, client);

  return program;
}

/** Runs the CLI; resolves to the process exit status. Errors print `error CODE: message`. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const program = buildProgram(env);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const known = error as { code?: string; exitCode?: number };
    if (
      known.code === "commander.helpDisplayed" ||
      known.code === "commander.version" ||
      known.code === "commander.help"
    )
      return 0;
    if (typeof known.code === "string" && known.code.startsWith("commander.")) return known.exitCode ?? 2;
    if (error instanceof ClientError) {
      process.stderr.write(`error ${error.code}: ${error.message}\n`);
      if (error.details) process.stderr.write(`${JSON.stringify(error.details, null, 2)}\n`);
      return 1;
    }
    if (isSkalaError(error)) {
      process.stderr.write(`error ${error.code}: ${error.message}\n`);
      if (error.details) process.stderr.write(`${JSON.stringify(error.details, null, 2)}\n`);
      return 1;
    }
    process.stderr.write(`error INTERNAL: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}
