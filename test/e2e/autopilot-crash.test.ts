import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MODELS = 200;

function child(mode: string, database: string): ChildProcess {
  return spawn(
    process.execPath,
    ["--import", "tsx", "test/e2e/autopilot-crash-child.ts", mode, database, String(MODELS)],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
}

/** Runs the child; with `killAfterApplied`, SIGKILLs it as it prints that many "applied" lines (inside a transaction). */
async function runChild(
  mode: string,
  database: string,
  killAfterApplied?: number,
): Promise<{ code: number | null; signal: string | null; lines: string[] }> {
  const proc = child(mode, database);
  let out = "";
  let err = "";
  let applied = 0;
  proc.stdout?.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    out += text;
    applied += text.split("\n").filter((l) => l.startsWith("applied ")).length;
    if (killAfterApplied !== undefined && applied >= killAfterApplied && proc.signalCode === null)
      proc.kill("SIGKILL");
  });
  proc.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    proc.on("exit", (c, s) => resolve([c, s])),
  );
  if (killAfterApplied === undefined && code !== 0) throw new Error(`child ${mode} exited ${code}:\n${err}`);
  return { code, signal, lines: out.split("\n").filter(Boolean) };
}

interface ModelFacts {
  champion: number;
  /** Champion moves the autopilot made (alias history rows). */
  moves: number;
  /** Succeeded promote rows in the ledger. */
  promotions: number;
}

async function facts(database: string): Promise<Map<string, ModelFacts>> {
  const store = openStore(`sqlite:${database}`);
  try {
    expect(await store.integrityCheck()).toBe("ok");
    const champions = await store.db
      .selectFrom("aliases as a")
      .innerJoin("registered_models as m", "m.id", "a.model_id")
      .innerJoin("model_versions as v", "v.id", "a.version_id")
      .select(["m.name", "v.version"])
      .where("a.alias", "=", "champion")
      .execute();
    const moves = await store.db
      .selectFrom("alias_history as h")
      .innerJoin("registered_models as m", "m.id", "h.model_id")
      .select(["m.name", (eb) => eb.fn.countAll<number>().as("n")])
      .where("h.reason", "like", "autopilot%")
      .groupBy("m.name")
      .execute();
    const promotions = await store.db
      .selectFrom("autopilot_actions")
      .select(["model", (eb) => eb.fn.countAll<number>().as("n")])
      .where("kind", "=", "promote")
      .where("status", "=", "succeeded")
      .groupBy("model")
      .execute();
    const byName = new Map<string, ModelFacts>();
    for (const c of champions) byName.set(c.name, { champion: c.version, moves: 0, promotions: 0 });
    for (const m of moves) (byName.get(m.name) as ModelFacts).moves = Number(m.n);
    for (const p of promotions) (byName.get(p.model) as ModelFacts).promotions = Number(p.n);
    return byName;
  } finally {
    await store.close();
  }
}

/** Every model is consistent: promoted (one move, one record) or untouched (no move, no record). */
function expectConsistent(state: Map<string, ModelFacts>): { promoted: number } {
  let promoted = 0;
  for (const [name, f] of state) {
    const ok =
      (f.champion === 2 && f.moves === 1 && f.promotions === 1) ||
      (f.champion === 1 && f.moves === 0 && f.promotions === 0);
    expect(ok, `${name}: ${JSON.stringify(f)}`).toBe(true);
    if (f.champion === 2) promoted++;
  }
  return { promoted };
}

/**
 * kill -9 in the middle of policy actions (inside a promotion's transaction, after its alias move and before
 * its ledger row), twice, then restart and run the same decisions again: every model ends promoted exactly
 * once, every promotion is recorded, and nothing is ever half done.
 */
describe("crash during autopilot actions", () => {
  const dir = mkdtempSync(join(tmpdir(), "skala-autopilot-crash-"));
  const database = join(dir, "skala.db");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("leaves no double promotion and no lost record after kill -9, and re-running changes nothing", async () => {
    await runChild("setup", database);

    const first = await runChild("policy", database, 40);
    expect(first.signal).toBe("SIGKILL");
    const afterFirst = expectConsistent(await facts(database));
    // The transaction the kill landed in rolled back: fewer promotions than "applied" lines.
    expect(afterFirst.promoted).toBeGreaterThan(0);
    expect(afterFirst.promoted).toBeLessThan(40);

    const second = await runChild("replay", database, 60);
    expect(second.signal).toBe("SIGKILL");
    const afterSecond = expectConsistent(await facts(database));
    expect(afterSecond.promoted).toBeGreaterThan(afterFirst.promoted);
    expect(afterSecond.promoted).toBeLessThan(MODELS);
    // The replay found the promotions done before the first crash already recorded.
    expect(second.lines.filter((l) => l.startsWith("recorded-duplicate")).length).toBe(
      Math.min(afterFirst.promoted, second.lines.filter((l) => l.startsWith("recorded-")).length),
    );

    const third = await runChild("policy", database);
    expect(third.lines.at(-1)).toBe("finished");
    const done = await facts(database);
    expect(expectConsistent(done).promoted).toBe(MODELS);

    // The same decisions once more: all duplicates, nothing moves.
    const replay = await runChild("replay", database);
    const outcomes = replay.lines.filter((l) => l.startsWith("recorded-"));
    expect(outcomes).toHaveLength(MODELS);
    expect(outcomes.every((l) => l.startsWith("recorded-duplicate"))).toBe(true);
    expect(replay.lines.some((l) => l.startsWith("applied "))).toBe(false);
    expect(expectConsistent(await facts(database)).promoted).toBe(MODELS);
  }, 120_000);
});
