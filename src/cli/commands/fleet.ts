import type { Command } from "commander";
import { SkalaError } from "../../core/index.js";
import { formatReport } from "../../fleets/index.js";
import type { CliContext, ClientOptions } from "../context.js";
import { CommandExit } from "../exit.js";
import { FleetDetached, trainFleet } from "../fleet-training.js";
import { positiveInt } from "../options.js";

interface TrainCommandOptions extends ClientOptions {
  wait: boolean;
  chunkSize?: number;
  allowOutsideSpecDir?: boolean;
}

/** The exit status of a process stopped by Ctrl-C (128 + SIGINT), as shells report it. */
const INTERRUPTED = 130;

/** `skala fleet train|status|report|cancel|list`. */
export function register(program: Command, ctx: CliContext): void {
  const fleet = program.command("fleet").description("fleets: one spec trained over thousands of segments");

  ctx
    .clientCommand(
      fleet,
      "train",
      "validate a fleet spec, upload its dataset, train and register every segment",
    )
    .argument("<spec>", "fleet spec file (YAML or JSON; docs/reference/fleet-spec.md)")
    .option("--no-wait", "submit and return without following progress")
    .option("--chunk-size <n>", "segments per job", positiveInt)
    .option(
      "--allow-outside-spec-dir",
      "upload the spec's dataset even when it lies outside the spec's folder (symlinks followed)",
    )
    .addHelpText("after", "\nCtrl-C while following stops following only: the run goes on in the server.")
    .action(async (specPath: string, o: TrainCommandOptions) => {
      let result: Awaited<ReturnType<typeof trainFleet>>;
      try {
        result = await trainFleet(
          ctx.client(o),
          specPath,
          {
            project: o.project,
            wait: o.wait,
            allowOutsideSpecDir: o.allowOutsideSpecDir === true,
            progress: ctx.stderr,
            onInterrupt: (detach) => ctx.onSignal("SIGINT", detach),
            ...(o.chunkSize && { chunkSize: o.chunkSize }),
          },
          (line) => {
            if (!o.json) ctx.out.line(line);
          },
        );
      } catch (error) {
        if (!(error instanceof FleetDetached)) throw error;
        const target = { server: o.server, project: error.project };
        throw new CommandExit(
          INTERRUPTED,
          `detached: the run ${error.run.id} goes on in the server; ` +
            `\`${ctx.hint(target, `fleet status ${error.fleet}`)}\` to follow, ` +
            `\`${ctx.hint(target, `fleet cancel ${error.fleet}`)}\` to stop it`,
        );
      }
      if (o.json) ctx.out.json(result);
      else if (result.report) ctx.out.line(formatReport(result.report));
      if (result.run.status === "failed" || result.run.status === "cancelled") {
        throw new SkalaError(
          "FLEET_RUN_FAILED",
          `fleet run ${result.run.id} ended ${result.run.status}: ${result.run.error ?? ""}`,
          { run: result.run.id },
        );
      }
    });

  ctx
    .clientCommand(fleet, "status", "progress of a fleet's latest (or given) run")
    .argument("<name>")
    .option("--run <id>")
    .action(async (name: string, o: ClientOptions & { run?: string }) => {
      const progress = await ctx.client(o).call("getFleetProgress", {
        params: { project: o.project, fleet: name },
        query: { run: o.run },
      });
      ctx.out.object(
        o.json
          ? progress
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

  ctx
    .clientCommand(
      fleet,
      "report",
      "a fleet run's report: metric distributions, winners, failures, resources",
    )
    .argument("<name>")
    .option("--run <id>")
    .action(async (name: string, o: ClientOptions & { run?: string }) => {
      const report = await ctx.client(o).call("getFleetReport", {
        params: { project: o.project, fleet: name },
        query: { run: o.run },
      });
      if (o.json) ctx.out.json(report);
      else ctx.out.line(formatReport(report));
    });

  ctx
    .clientCommand(fleet, "cancel", "cancel a fleet's running run")
    .argument("<name>")
    .option("--run <id>")
    .action(async (name: string, o: ClientOptions & { run?: string }) => {
      ctx.out.object(
        await ctx.client(o).call("cancelFleet", {
          params: { project: o.project, fleet: name },
          query: { run: o.run },
        }),
        o,
      );
    });

  ctx.clientCommand(fleet, "list", "fleets of the project").action(async (o: ClientOptions) => {
    const { items } = await ctx.client(o).call("listFleets", { params: { project: o.project } });
    ctx.out.rows(
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
}
