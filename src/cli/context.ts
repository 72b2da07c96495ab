import type { Command } from "commander";
import {
  CLIENT_ENV,
  loadConfig,
  SETTINGS,
  type SettingKey,
  type SkalaConfig,
  SkalaError,
} from "../core/index.js";
import { DEFAULT_SERVER, type ServerAddress, SkalaClient } from "./client.js";
import { checkReadable } from "./files.js";
import { isHttpUrl, serverUrl } from "./options.js";
import { Output, type TextSink } from "./output.js";

/** What the process hands the CLI. `bin.ts` reads it once from `process`; tests pass their own. */
export interface CliProcess {
  /** The environment: `SKALA_SERVER` for client commands, `SKALA_*` settings for server commands. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** The package version, for `skala --version`. */
  readonly version: string;
  /** Subscribes to a signal until the returned function is called. */
  onSignal(signal: "SIGINT" | "SIGTERM", handler: () => void): () => void;
  /**
   * Check every JSON answer against its operation's response schema (tests and development: a server and
   * client that drifted apart fail loudly). `bin.ts` leaves it off.
   */
  readonly checkResponses?: boolean;
}

/** The options every client command has. */
export interface ClientOptions {
  server?: string;
  project: string;
  json: boolean;
}

/** What every command module gets: the process, output helpers, the client factory and config loading. */
export interface CliContext extends CliProcess {
  /** Tables and JSON on stdout. */
  readonly out: Output;
  /** A command with `--server`, `--project` and `--json`. */
  clientCommand(parent: Command, name: string, description: string): Command;
  /** A command with `--config` and one flag per setting (SETTINGS), for commands that open the store. */
  serverCommand(parent: Command, name: string, description: string): Command;
  /** The server a client command talks to: `--server`, else `SKALA_SERVER`, else the default. */
  server(options: Pick<ClientOptions, "server">): ServerAddress;
  client(options: Pick<ClientOptions, "server">): SkalaClient;
  /** The server configuration from a server command's flags, the environment and the config file. */
  serverConfig(options: Record<string, unknown>): Promise<SkalaConfig>;
  /** `skala <command>`, plus the flags that reach the same server and project, for hints. */
  hint(options: Pick<ClientOptions, "server" | "project">, command: string): string;
}

const camelCase = (flag: string) =>
  flag.replace(/^--/, "").replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

export function createContext(process: CliProcess): CliContext {
  const fromEnv = process.env[CLIENT_ENV.server];
  const context: CliContext = {
    ...process,
    out: new Output(process.stdout),
    clientCommand: (parent, name, description) =>
      parent
        .command(name)
        .description(description)
        .option(
          "--server <url>",
          `Skala server (default: $${CLIENT_ENV.server}, else ${DEFAULT_SERVER})`,
          serverUrl,
        )
        .option("--project <name>", "project", "default")
        .option("--json", "print JSON instead of a table", false),
    serverCommand: (parent, name, description) => {
      const command = parent.command(name).description(description);
      command.option("--config <file>", "config file (default ./skala.config.json when present)");
      for (const setting of SETTINGS)
        command.option(`${setting.flag} <value>`, `${setting.doc} (${setting.env})`);
      return command;
    },
    server: (options) => {
      if (options.server !== undefined) return { url: options.server, from: "--server" };
      if (fromEnv === undefined || fromEnv === "") return { url: DEFAULT_SERVER, from: "default" };
      if (!isHttpUrl(fromEnv)) {
        throw new SkalaError(
          "CONFIG_INVALID",
          `${CLIENT_ENV.server}="${fromEnv}" is not an http:// or https:// URL`,
          {
            issues: [{ path: `env ${CLIENT_ENV.server}`, message: "must be an http:// or https:// URL" }],
          },
        );
      }
      return { url: fromEnv, from: CLIENT_ENV.server };
    },
    client: (options) =>
      new SkalaClient(context.server(options), { checkResponses: process.checkResponses === true }),
    serverConfig: async (options) => {
      const flags: Partial<Record<SettingKey, unknown>> = {};
      for (const setting of SETTINGS) flags[setting.key] = options[camelCase(setting.flag)];
      const configFile = typeof options.config === "string" ? options.config : undefined;
      if (configFile !== undefined) await checkReadable(configFile);
      return loadConfig({ flags, env: process.env, ...(configFile !== undefined && { configFile }) });
    },
    hint: (options, command) => {
      const server = options.server === undefined ? "" : ` --server ${options.server}`;
      const project = options.project === "default" ? "" : ` --project ${options.project}`;
      return `skala ${command}${server}${project}`;
    },
  };
  return context;
}
