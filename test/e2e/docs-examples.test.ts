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
/** The address the documents' commands assume: `skala up`'s default. */
const DEFAULT_URL = "http://127.0.0.1:7070";
/** Installing and starting the server: the test's checkout and server stand in for these. */
const SETUP = [/^npm ci$/, /^npm run build && npx skala up$/];

/** A document's `sh` blocks (in one section, or all of them), as the shell reads them: one command a line. */
function shellCommands(markdown: string, section?: string): string[] {
  const start = section === undefined ? 0 : markdown.indexOf(section);
  const end = section === undefined ? markdown.length : markdown.indexOf("\n## ", start + 1);
  return [...markdown.slice(start, end < 0 ? undefined : end).matchAll(/```sh\n([\s\S]*?)```/g)].flatMap(
    (block) =>
      (block[1] as string)
        .replace(/\\\n\s*/g, " ")
        .split("\n")
        .map((line) => line.replace(/\s+# .*$/, "").trim())
        .filter((line) => line !== "" && !line.startsWith("#")),
  );
}

const HAS_CURL = (process.env.PATH ?? "").split(":").some((dir) => {
  try {
    accessSync(join(dir, "curl"), constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

/** What each document's commands must have produced, beyond succeeding. */
const DOCUMENTS: Array<{
  file: string;
  section?: string;
  check(output: (fragment: string | RegExp) => string, work: string): void;
}> = [
  {
    file: "README.md",
    section: "## Using it",
    check(output, work) {
      expect(output("alias resolve part-A12@champion")).toMatch(/version\s*│\s*1\s/);
      expect(output("models list --tag family=brakes")).toContain("part-A12");
      expect(output(`tags.segment = "A12"`)).toContain("part-A12");
      expect(output("fleet train examples/quickstart/fleet.yaml")).toMatch(/6 total, 6 registered, 0 failed/);
      expect(output("deploy list")).toMatch(/part-A12.*champion 100%.*challenger/);
      const scores = readFileSync(join(work, "scores.csv"), "utf8").split("\n");
      expect(scores.slice(0, 2)).toEqual(["part,forecast", expect.stringMatching(/^A12,10\.6/)]);
      if (HAS_CURL) checkInference(output);
    },
  },
  {
    file: "docs/getting-started.md",
    check(output) {
      expect(output("/readyz")).toContain('"status":"ready"');
      expect(output("versions search")).toContain("part-A12");
      expect(output("deploy get part-A12")).toMatch(/champion 100%/);
      expect(output("head -3 scores.csv").split("\n").slice(0, 2)).toEqual([
        "part,forecast",
        expect.stringMatching(/^A12,10\.6/),
      ]);
      expect(output("models list --fleet quickstart")).toContain("quickstart.A12");
      if (HAS_CURL) checkInference(output);
    },
  },
];

function checkInference(output: (fragment: string | RegExp) => string): void {
  expect(JSON.parse(output(/\/v2\/models\/part-A12$/))).toMatchObject({ name: "part-A12" });
  const [answer] = (JSON.parse(output("/v2/models/part-A12/infer")) as { outputs: Array<{ data: number[] }> })
    .outputs;
  expect(answer?.data.map((x) => Number(x.toFixed(4)))).toEqual([10.6, 30.4]);
  const [mean] = (
    JSON.parse(output("/v2/models/quickstart.A12/infer")) as { outputs: Array<{ data: number[] }> }
  ).outputs;
  expect(mean?.data).toHaveLength(6);
}

/**
 * Runs the documents' commands in order, as written, against a real `skala up`: through `sh`, from a folder
 * that holds the repository's `examples/`, with an `npx` that runs this checkout's CLI from source. The test's
 * server stands in for `skala up`; SKALA_SERVER and SKALA_DATA_DIR point the commands at it, and its address
 * replaces the default one in the `curl` lines (which run only where curl is installed).
 */
describe.each(DOCUMENTS)("the commands of $file", ({ file, section, check }) => {
  const commands = shellCommands(readFileSync(join(ROOT, file), "utf8"), section);
  const work = mkdtempSync(join(tmpdir(), "skala-docs-"));
  const dataDir = join(work, ".skala");
  const bin = join(work, "bin");
  let server: { url: string; child: ChildProcess };

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
    writeFileSync(
      join(bin, "npx"),
      `#!/bin/sh\n[ "$1" = skala ] || { echo "npx: only skala here, not $1" >&2; exit 127; }\nshift\n` +
        `exec "${process.execPath}" --import "${import.meta.resolve("tsx")}" "${join(ROOT, "src/cli/bin.ts")}" "$@"\n`,
    );
    chmodSync(join(bin, "npx"), 0o755);
    server = await startSkala(dataDir);
  });
  afterAll(async () => {
    await stopSkala(server.child);
    rmSync(work, { recursive: true, force: true });
  });

  it("install and start the server the way the test stands in for", () => {
    const setup = commands.filter((c) => SETUP.some((pattern) => pattern.test(c)));
    expect(setup).toContain("npm run build && npx skala up");
    expect(commands.filter((c) => / skala up\b/.test(c))).toEqual(["npm run build && npx skala up"]);
  });

  it("run as written, in order", { timeout: 600_000 }, async () => {
    const outputs: Array<[string, string]> = [];
    for (const command of commands) {
      if (SETUP.some((pattern) => pattern.test(command))) continue;
      if (command.startsWith("curl ") && !HAS_CURL) continue;
      const result = await sh(command);
      expect(result.code, `${command}\n${result.stderr}`).toBe(0);
      outputs.push([command, result.stdout]);
    }
    const output = (fragment: string | RegExp) =>
      outputs.find(([command]) =>
        typeof fragment === "string" ? command.includes(fragment) : fragment.test(command),
      )?.[1] ?? "";
    check(output, work);
  });
});
