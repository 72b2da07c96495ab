import { Command, CommanderError, InvalidArgumentError } from "commander";
import { isSkalaError } from "../core/index.js";
import { ClientError } from "./client.js";
import * as alerts from "./commands/alerts.js";
import * as aliases from "./commands/aliases.js";
import * as autopilot from "./commands/autopilot.js";
import * as datasets from "./commands/datasets.js";
import * as deploy from "./commands/deploy.js";
import * as fleet from "./commands/fleet.js";
import * as models from "./commands/models.js";
import * as monitor from "./commands/monitor.js";
import * as runs from "./commands/runs.js";
import * as score from "./commands/score.js";
import * as server from "./commands/server.js";
import * as versions from "./commands/versions.js";
import { type CliContext, type CliProcess, createContext } from "./context.js";
import { CommandExit } from "./exit.js";
import { fileError, isFileSystemError } from "./files.js";
import type { TextSink } from "./output.js";

/** A command module: it adds its commands to the program. */
export interface CommandModule {
  register(program: Command, ctx: CliContext): void;
}

/** Every command module, in the order `skala --help` lists them. */
const COMMANDS: readonly CommandModule[] = [
  server,
  models,
  versions,
  aliases,
  deploy,
  runs,
  datasets,
  fleet,
  score,
  monitor,
  autopilot,
  alerts,
];

/** Usage errors are the user's input failing validation, so they print as one too. */
const USAGE_ERROR = "VALIDATION_FAILED";

function buildProgram(ctx: CliContext): Command {
  // Settings made here, before any subcommand exists, are inherited by every subcommand.
  const program = new Command("skala")
    .description("Operate a thousand models like one.")
    .version(ctx.version, "-V, --version", "print the version")
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error: /, `error ${USAGE_ERROR}: `)),
    })
    .showHelpAfterError()
    .exitOverride();
  for (const module of COMMANDS) module.register(program, ctx);
  return program;
}

/**
 * Runs the CLI; resolves to the process exit status. Failures print `error CODE: message` (and the
 * details, when there are some) on stderr and give 1; nothing the user can cause prints a stack trace.
 */
export async function main(argv: string[], process: CliProcess): Promise<number> {
  const ctx = createContext(process);
  try {
    await buildProgram(ctx).parseAsync(argv);
    return 0;
  } catch (error) {
    return reportFailure(error, ctx.stderr);
  }
}

function reportFailure(error: unknown, stderr: TextSink): number {
  const print = (code: string, message: string, details?: unknown) => {
    stderr.write(`error ${code}: ${message}\n`);
    if (details) stderr.write(`${JSON.stringify(details, null, 2)}\n`);
  };
  if (error instanceof CommandExit) {
    stderr.write(`${error.notice}\n`);
    return error.exitCode;
  }
  // Thrown by a value check inside an action; commander reports only those thrown while parsing.
  if (error instanceof InvalidArgumentError) {
    print(USAGE_ERROR, error.message);
    return 1;
  }
  if (error instanceof CommanderError) {
    // Commander has printed it (or the help, or the version) already.
    const done = ["commander.helpDisplayed", "commander.help", "commander.version"].includes(error.code);
    return done ? 0 : error.exitCode;
  }
  if (error instanceof ClientError || isSkalaError(error)) {
    print(error.code, error.message, error.details);
    return 1;
  }
  // A safety net: every file the CLI reads is meant to go through files.ts, which names the path already.
  if (isFileSystemError(error)) {
    const known = fileError(error, error.path);
    print(known.code, known.message);
    return 1;
  }
  stderr.write(`error INTERNAL: ${(error as Error).stack ?? String(error)}\n`);
  return 1;
}
