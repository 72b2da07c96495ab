import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The layering rules of docs/architecture.md, checked on the source: capabilities import each other only
 * through their index.ts, dependencies point one way, and there are no cycles between capabilities.
 */
const SRC = fileURLToPath(new URL("../src", import.meta.url));

/** What each capability may import. Anything not listed is a violation; keep this in step with the docs. */
const ALLOWED: Record<string, string[]> = {
  core: [],
  store: ["core"],
  artifacts: ["core"],
  forecasting: ["core"],
  registry: ["core", "store", "artifacts"],
  jobs: ["core", "store"],
  fleets: ["core", "store", "artifacts", "registry", "forecasting", "jobs"],
  serving: ["core", "artifacts", "registry", "forecasting"],
  scoring: ["core", "store", "artifacts", "registry", "jobs", "serving"],
  alerts: ["core", "store", "jobs"],
  monitoring: ["core", "store", "jobs", "serving", "forecasting"],
  // artifacts: only its tests, for the registry they build (a memory blob store).
  autopilot: ["core", "store", "artifacts", "jobs", "registry", "monitoring"],
  http: [
    "core",
    "store",
    "artifacts",
    "registry",
    "jobs",
    "fleets",
    "serving",
    "scoring",
    "monitoring",
    "autopilot",
    "alerts",
  ],
  cli: [
    "core",
    "store",
    "artifacts",
    "registry",
    "http",
    "forecasting",
    "jobs",
    "fleets",
    "serving",
    "scoring",
    "monitoring",
    "autopilot",
    "alerts",
  ],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

const imports = sourceFiles(SRC).flatMap((file) => {
  const from = relative(SRC, file);
  const capability = from.split("/")[0] as string;
  const isTestCode = /\.test\.ts$|\.contract\.ts$|\/test-support\//.test(from);
  return [...readFileSync(file, "utf8").matchAll(/from\s+"(\.\.?\/[^"]+)"/g)].map((match) => {
    const target = relative(SRC, join(file, "..", match[1] as string));
    return { from, capability, target, targetCapability: target.split("/")[0] as string, isTestCode };
  });
});

/**
 * A capability's end-to-end tests (e.g. serving's protocol conformance suite) run through the whole app, so
 * their test code may import the app's test harness; production code never may, so this is no real edge.
 */
const isAppHarnessImport = (i: (typeof imports)[number]) =>
  i.isTestCode && i.target.startsWith("http/test-support/");
const layered = imports.filter((i) => !isAppHarnessImport(i));

describe("architecture", () => {
  it("knows every capability folder", () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it("imports other capabilities only through their index.ts", () => {
    const violations = imports.filter(
      (i) =>
        i.targetCapability !== i.capability &&
        !i.isTestCode &&
        i.target !== `${i.targetCapability}/index.js` &&
        // The store's per-dialect test helpers are shared test code.
        !i.target.startsWith("store/test-support/"),
    );
    expect(violations.map((v) => `${v.from} → ${v.target}`)).toEqual([]);
  });

  it("points dependencies one way", () => {
    const violations = layered.filter(
      (i) =>
        i.targetCapability !== i.capability && !(ALLOWED[i.capability] ?? []).includes(i.targetCapability),
    );
    expect(
      violations.map((v) => `${v.from} → ${v.target} (${v.capability} may not import ${v.targetCapability})`),
    ).toEqual([]);
  });

  it("has no cycles between capabilities", () => {
    const edges = new Map<string, Set<string>>();
    for (const i of layered) {
      if (i.targetCapability === i.capability) continue;
      edges.set(i.capability, (edges.get(i.capability) ?? new Set()).add(i.targetCapability));
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      if (done.has(node)) return;
      if (visiting.has(node)) {
        cycles.push([...path, node].join(" → "));
        return;
      }
      visiting.add(node);
      for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
      visiting.delete(node);
      done.add(node);
    };
    for (const node of edges.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });
});
