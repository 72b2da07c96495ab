import type { Command } from "commander";
import type { Deployment, DeploymentRoute, EnvironmentName } from "../../registry/index.js";
import type { CliContext, ClientOptions } from "../context.js";
import { collectRoute, environmentName } from "../options.js";

interface DeployOptions extends ClientOptions {
  env: EnvironmentName;
}

interface SetOptions extends DeployOptions {
  route: DeploymentRoute[];
  shadow?: string;
  pin?: boolean;
}

const describeRoutes = (d: Deployment) => d.routes.map((r) => `${r.target} ${r.weight}%`).join(", ");

/** `skala deploy set|get|list|delete`: how an environment routes a model's `/v2` traffic. */
export function register(program: Command, ctx: CliContext): void {
  const deploy = program
    .command("deploy")
    .description("deployments: how an environment routes a model's traffic (split, shadow, pinning)");
  const deployCommand = (name: string, description: string) =>
    ctx
      .clientCommand(deploy, name, description)
      .option("--env <environment>", "dev, test or prod", environmentName, "prod" as EnvironmentName);

  deployCommand("set", "route a model's traffic in an environment (creates or replaces)")
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
    .action(async (model: string, o: SetOptions) => {
      const result = await ctx.client(o).call("setDeployment", {
        params: { project: o.project, environment: o.env, model },
        body: {
          routes: o.route,
          ...(o.shadow !== undefined && { shadow: o.shadow }),
          ...(o.pin !== undefined && { pinned: o.pin }),
        },
      });
      ctx.out.object({ ...result, routes: describeRoutes(result) }, o);
    });

  deployCommand("get", "show a model's deployment in an environment")
    .argument("<model>")
    .action(async (model: string, o: DeployOptions) => {
      const result = await ctx
        .client(o)
        .call("getDeployment", { params: { project: o.project, environment: o.env, model } });
      ctx.out.object({ ...result, routes: describeRoutes(result) }, o);
    });

  deployCommand("list", "list an environment's deployments").action(async (o: DeployOptions) => {
    const { items } = await ctx
      .client(o)
      .call("listDeployments", { params: { project: o.project, environment: o.env } });
    ctx.out.rows(
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
  });

  deployCommand("delete", "remove a model's deployment (the champion answers again)")
    .argument("<model>")
    .action(async (model: string, o: DeployOptions) => {
      await ctx
        .client(o)
        .call("deleteDeployment", { params: { project: o.project, environment: o.env, model } });
      if (o.json) ctx.out.json({});
      else ctx.out.line(`deleted the deployment of ${model} in ${o.env}`);
    });
}
