import type { ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import {
  accessSync,
  chmodSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSkala, stopSkala } from "./server-process.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const README = readFileSync(join(ROOT, "README.md"), "utf8");
/** The address the README's commands assume: `skala up`'s default. */
const DEFAULT_URL = "http://127.0.0.1:7070";

/** The README's "Using it" section, as the shell would read its `sh` blocks: one command per line. */
function usingItCommands(readme: string): string[] {
  const start = readme.indexOf("## Using it");
  const section = readme.slice(start, readme.indexOf("\n## ", start));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) =>
    (block[1] as string)
      .replace(/\\\n\s*/g, " ")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#")),
  );
}

function hasCurl(): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => {
    try {
      accessSync(join(dir, "curl"), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Runs the README's "Using it" commands in order, as written, against a real `skala up`: through `sh`, from a
 * folder that holds the repository's `examples/`, with an `npx` that runs this checkout's CLI from source.
 * The test's server stands in for the README's `skala up`; SKALA_SERVER and SKALA_DATA_DIR point the commands
 * at it, and its address replaces the default one in the `curl` lines.
 */
describe("the README's examples", () => {
  const commands = usingItCommands(README);
  const work = mkdtempSync(join(tmpdir(), "skala-readme-"));
  const dataDir = join(work, ".skala");
  const bin = join(work, "bin");
  let server: { url: string; child: ChildProcess };
  const outputs = new Map<string, string>();

  const sh = (command: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "sh",
        ["-c", command.replaceAll(DEFAULT_URL, server.url)],
        {
          cwd: work,
          env: {
            PATH: `${bin}:${process.env.PATH ?? ""}`,
            HOME: process.env.HOME ?? work,
            SKALA_SERVER: server.url,
            SKALA_DATA_DIR: dataDir,
          },
          maxBuffer: 16 << 20,
        },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    mkdirSync(bin);
    symlinkSync(join(ROOT, "examples"), join(work, "examples"));
    const tsx = import.meta.resolve("tsx");
    writeFileSync(
      join(bin, "npx"),
      `#!/bin/sh\n[ "$1" = skala ] || { echo "npx: only skala here, not $1" >&2; exit 127; }\nshift\n` +
        `exec "${process.execPath}" --import "${tsx}" "${join(ROOT, "src/cli/bin.ts")}" "$@"\n`,
    );
    chmodSync(join(bin, "npx"), 0o755);
    server = await startSkala(dataDir);
  });
  afterAll(async () => {
    await stopSkala(server.child);
    rmSync(work, { recursive: true, force: true });
  });

  it("start the server with one command, which the test's own server stands in for", () => {
    const others = commands.filter((c) => !c.startsWith("npx skala ") && !c.startsWith("curl "));
    expect(others).toHaveLength(1);
    expect(others[0]).toMatch(/^npm run build && npx skala up( |$)/);
    expect(commands.filter((c) => / skala up\b/.test(c))).toEqual(others);
  });

  it("run as written, in order", { timeout: 600_000 }, async () => {
    for (const command of commands.filter((c) => c.startsWith("npx skala ") && !/ skala up\b/.test(c))) {
      const result = await sh(command);
      expect(result.code, `${command}\n${result.stderr}`).toBe(0);
      outputs.set(command, result.stdout);
    }
    const output = (fragment: string) =>
      [...outputs.entries()].find(([command]) => command.includes(fragment))?.[1] ?? "";
    expect(output("alias resolve part-A12@champion")).toMatch(/version\s*│\s*1\s/);
    expect(output("models list --tag family=brakes")).toContain("part-A12");
    expect(output(`tags.segment = "A12"`)).toContain("part-A12");
    expect(output("fleet train examples/quickstart/fleet.yaml")).toMatch(/6 total, 6 registered, 0 failed/);
    expect(output("deploy list")).toMatch(/part-A12.*champion 100%.*challenger/);
    const scores = readFileSync(join(work, "scores.csv"), "utf8").split("\n");
    expect(scores[0]).toBe("part,forecast");
    expect(scores[1]).toMatch(/^A12,10\.6/);
  });

  it.skipIf(!hasCurl())("answer the README's inference requests", { timeout: 120_000 }, async () => {
    const curls = commands.filter((c) => c.startsWith("curl "));
    expect(curls).toHaveLength(3);
    const [metadata, onnx, forecast] = await Promise.all(curls.map((c) => sh(c)));
    expect(JSON.parse(metadata?.stdout ?? "")).toMatchObject({
      name: "part-A12",
      platform: "onnxruntime_onnx",
    });
    const [answer] = (JSON.parse(onnx?.stdout ?? "") as { outputs: Array<{ data: number[] }> }).outputs;
    expect(answer?.data.map((x) => Number(x.toFixed(4)))).toEqual([10.6, 30.4]);
    const [mean] = (
      JSON.parse(forecast?.stdout ?? "") as { outputs: Array<{ name: string; data: number[] }> }
    ).outputs;
    expect(mean).toMatchObject({ name: "mean" });
    expect(mean?.data).toHaveLength(6);
  });
});
