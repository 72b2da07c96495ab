import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { systemClock } from "../../core/index.js";
import { testApp } from "../../http/test-support/test-app.js";
import { JobQueue, WorkerPool } from "../../jobs/index.js";
import { ScoringService } from "../../scoring/index.js";
import type { CliProcess } from "../context.js";
import { main } from "../main.js";
import type { TextSink } from "../output.js";

/** A sink that keeps what is written; `isTTY` makes it pass for a terminal. */
export function captureSink(options: { isTTY?: boolean } = {}): TextSink & { text(): string } {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  }) as Writable & { isTTY?: boolean; text(): string };
  if (options.isTTY) sink.isTTY = true;
  sink.text = () => text;
  return sink;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  /** Resolves when the command ends. */
  done: Promise<CliResult>;
  stdout: TextSink & { text(): string };
  stderr: TextSink & { text(): string };
  /** Delivers a signal to the command, as the terminal would (Ctrl-C is SIGINT). */
  signal(name: "SIGINT" | "SIGTERM"): void;
}

/**
 * Starts the real CLI in this process (`main`, not a child process) with captured output and signals
 * that the test delivers.
 */
export function startCli(
  args: string[],
  options: { env?: Record<string, string>; stdoutIsTTY?: boolean } = {},
): CliRun {
  const stdout = captureSink({ isTTY: options.stdoutIsTTY ?? false });
  const stderr = captureSink();
  const signals = new EventEmitter();
  const cliProcess: CliProcess = {
    env: options.env ?? {},
    stdout,
    stderr,
    version: "0.0.0-test",
    // Every command test also checks that each answer matches its operation's response schema.
    checkResponses: true,
    onSignal: (signal, handler) => {
      signals.on(signal, handler);
      return () => {
        signals.off(signal, handler);
      };
    },
  };
  const done = main(["node", "skala", ...args], cliProcess).then((code) => ({
    code,
    stdout: stdout.text(),
    stderr: stderr.text(),
  }));
  return { done, stdout, stderr, signal: (name) => signals.emit(name) };
}

/** Runs the CLI in this process to its end. */
export function runCli(args: string[], options: { env?: Record<string, string> } = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/**
 * A real server (the whole app over a fresh SQLite store, listening on a free loopback port) and the CLI
 * pointed at it through SKALA_SERVER, as a user's shell would. No job workers run unless `scoring` asks for
 * batch scoring workers (with `/v2` inference): fleet runs stay queued.
 */
export async function cliAgainstServer(options: { scoring?: boolean } = {}): Promise<{
  url: string;
  run(...args: string[]): Promise<CliResult>;
  start(args: string[]): CliRun;
  /** Runs a command with `--json`, expects success and returns the parsed output. */
  json<T>(...args: string[]): Promise<T>;
  close(): Promise<void>;
}> {
  let pool: WorkerPool | undefined;
  const harness = await testApp({
    ...(options.scoring && {
      inference: true,
      scoring: (deps) => {
        const jobs = new JobQueue({ store: deps.store, clock: systemClock });
        const scoring = new ScoringService({
          store: deps.store,
          registry: deps.registry,
          jobs,
          inference: deps.inference,
        });
        pool = new WorkerPool({ queue: jobs, concurrency: 1, pollMs: 20, leaseMs: 5_000 });
        scoring.attach(pool);
        pool.start();
        return scoring;
      },
    }),
  });
  const url = await harness.app.listen({ host: "127.0.0.1", port: 0 });
  const env = { SKALA_SERVER: url };
  return {
    url,
    run: (...args) => runCli(args, { env }),
    start: (args) => startCli(args, { env }),
    async json<T>(...args: string[]) {
      const result = await runCli([...args, "--json"], { env });
      if (result.code !== 0)
        throw new Error(`skala ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
    async close() {
      await pool?.stop({ timeoutMs: 5_000, abort: true });
      await harness.close();
    },
  };
}
