import type { Command } from "commander";
import { formatReport } from "../../fleets/index.js";
import { DEFAULT_SERVER } from "../client.js";
import type { CliContext } from "../context.js";
import { trainFleet } from "../fleet-training.js";

// The composition root (Fastify, both database drivers, onnxruntime) loads only when a command needs it, so
// client commands start in a fraction of the time.
const compose = () => import("../compose.js");

type ServerOptions = Record<string, unknown>;

/** `skala up`, `skala migrate` and `skala gc`: the commands that run the server or open its store. */
export function register(program: Command, ctx: CliContext): void {
  ctx
    .serverCommand(program, "up", "start the Skala server on embedded defaults (SQLite, local files)")
    .option(
      "--train <spec>",
      "after start, train this fleet spec (skipped when the same spec and data already ran)",
    )
    .option("--allow-outside-spec-dir", "with --train: upload a dataset outside the spec's folder")
    .action(async (options: ServerOptions) => {
      const config = await ctx.serverConfig(options);
      const { startServer } = await compose();
      const { logDestination } = await import("../logging.js");
      const { app, url } = await startServer(config, logDestination(config.log.format, ctx.stdout, ctx.env));
      ctx.out.line(`Skala is up at ${url}  (API docs: ${url}/api/docs, data: ${config.resolved.dataDir})`);
      // Clients default to DEFAULT_SERVER; elsewhere they need to be told, and the hints say how.
      const clientPrefix = url === DEFAULT_SERVER ? "" : `SKALA_SERVER=${url} `;
      if (clientPrefix) ctx.out.line(`clients: export SKALA_SERVER=${url}  (or pass --server ${url})`);
      let stop = () => {};
      const stopped = new Promise<void>((resolve) => {
        stop = () => {
          for (const unsubscribe of subscriptions) unsubscribe();
          app.close().then(resolve, resolve);
        };
      });
      const subscriptions = [ctx.onSignal("SIGINT", () => stop()), ctx.onSignal("SIGTERM", () => stop())];
      if (typeof options.train === "string") {
        try {
          const result = await trainFleet(
            ctx.client({ server: url }),
            options.train,
            {
              project: "default",
              wait: true,
              allowOutsideSpecDir: options.allowOutsideSpecDir === true,
              progress: ctx.stderr,
            },
            (line) => ctx.out.line(line),
          );
          if (result.report) ctx.out.line(formatReport(result.report));
          ctx.out.line(
            `Skala keeps serving at ${url}; try: ${clientPrefix}npx skala models list --fleet ${result.run.fleet}`,
          );
        } catch (error) {
          // A server left running after its --train failed would keep the process alive with nothing said.
          stop();
          await stopped;
          throw error;
        }
      }
      await stopped;
    });

  ctx
    .serverCommand(program, "migrate", "apply pending database migrations and exit")
    .action(async (options: ServerOptions) => {
      const config = await ctx.serverConfig(options);
      const { openServices } = await compose();
      const { pendingMigrations } = await import("../../store/index.js");
      const services = await openServices(config, { migrate: true });
      try {
        const pending = await pendingMigrations(services.store);
        ctx.out.line(`migrations applied; pending: ${pending.length}`);
      } finally {
        await services.close();
      }
    });

  ctx
    .serverCommand(program, "gc", "remove artifact blobs that nothing references")
    .option("--dry-run", "report what would be removed, remove nothing")
    .option("--json", "print JSON")
    .action(async (options: ServerOptions) => {
      const config = await ctx.serverConfig(options);
      const { openServices } = await compose();
      const services = await openServices(config);
      try {
        const report = await services.registry.artifacts.collectGarbage({
          graceSeconds: config.gc.graceSeconds,
          dryRun: Boolean(options.dryRun),
        });
        ctx.out.object(report, { json: Boolean(options.json) });
      } finally {
        await services.close();
      }
    });
}
