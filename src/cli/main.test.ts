import { type AddressInfo, createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SERVER, SkalaClient } from "./client.js";
import { createContext } from "./context.js";
import { captureSink, cliAgainstServer, runCli } from "./test-support/cli-harness.js";

/** An address where nothing listens: a port the system just handed out and took back. */
async function closedAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

describe("the skala program", () => {
  it("prints its version and its help", async () => {
    expect(await runCli(["--version"])).toEqual({ code: 0, stdout: "0.0.0-test\n", stderr: "" });
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of [
      "up",
      "models",
      "versions",
      "alias",
      "deploy",
      "runs",
      "datasets",
      "fleet",
      "score",
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    const sub = await runCli(["fleet", "train", "--help"]);
    expect(sub.stdout).toContain("--allow-outside-spec-dir");
  });

  it("prints usage errors as `error VALIDATION_FAILED: …` and exits 1", async () => {
    const unknown = await runCli(["frobnicate"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error VALIDATION_FAILED: unknown command 'frobnicate'/);
    const missingArgument = await runCli(["models", "get"]);
    expect(missingArgument.code).toBe(1);
    expect(missingArgument.stderr).toMatch(/^error VALIDATION_FAILED: missing required argument 'name'/);
    const badServer = await runCli(["models", "list", "--server", "localhost:7070"]);
    expect(badServer.stderr).toMatch(
      /^error VALIDATION_FAILED: .*"localhost:7070" is not an http:\/\/ or https:\/\/ URL/,
    );
  });

  describe("the server a client command talks to", () => {
    let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
    let nowhere: string;
    beforeAll(async () => {
      cli = await cliAgainstServer();
      nowhere = await closedAddress();
    });
    afterAll(async () => {
      await cli.close();
    });

    it("is --server, else SKALA_SERVER, else the default", async () => {
      const context = (env: Record<string, string>) =>
        createContext({
          env,
          stdout: captureSink(),
          stderr: captureSink(),
          version: "0",
          onSignal: () => () => {},
        });
      expect(context({}).server({})).toEqual({ url: DEFAULT_SERVER, from: "default" });
      expect(context({ SKALA_SERVER: cli.url }).server({})).toEqual({ url: cli.url, from: "SKALA_SERVER" });
      expect(context({ SKALA_SERVER: cli.url }).server({ server: nowhere })).toEqual({
        url: nowhere,
        from: "--server",
      });
      const fromEnv = await runCli(["models", "list", "--json"], { env: { SKALA_SERVER: cli.url } });
      expect(fromEnv).toMatchObject({ code: 0, stderr: "" });
      const flagWins = await runCli(["models", "list", "--server", nowhere], {
        env: { SKALA_SERVER: cli.url },
      });
      expect(flagWins.stderr).toMatch(new RegExp(`^error SERVER_UNREACHABLE: cannot reach ${nowhere} `));
    });

    it("names the address it could not reach, where it came from and how to change it", async () => {
      const flag = await runCli(["models", "list", "--server", nowhere]);
      expect(flag.code).toBe(1);
      expect(flag.stderr).toBe(
        `error SERVER_UNREACHABLE: cannot reach ${nowhere} (ECONNREFUSED): is \`skala up\` running there? The address comes from --server\n`,
      );
      const env = await runCli(["models", "list"], { env: { SKALA_SERVER: nowhere } });
      expect(env.stderr).toMatch(/The address comes from SKALA_SERVER\n/);
      const invalid = await runCli(["models", "list"], { env: { SKALA_SERVER: "nowhere" } });
      expect(invalid.code).toBe(1);
      expect(invalid.stderr).toMatch(
        /^error CONFIG_INVALID: SKALA_SERVER="nowhere" is not an http:\/\/ or https:\/\/ URL/,
      );
    });

    it("says how to start a server or pick another when the default address does not answer", async () => {
      // The default address itself may be taken on this machine, so the client is told it came from there.
      const client = new SkalaClient({ url: nowhere, from: "default" });
      await expect(client.call("listProjects")).rejects.toThrow(
        `cannot reach ${nowhere} (ECONNREFUSED): is \`skala up\` running? Another server: --server URL or SKALA_SERVER=URL`,
      );
    });
  });
});
