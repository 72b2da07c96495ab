import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root, from this file's place in it. */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * Copies of public data sets committed with the tests (each folder has its source and licence): they are
 * always there, so tests that read them never skip.
 */
export const COMMITTED_DATA = {
  /** examples/carparts/carparts.csv: the full carparts data set (GPL-3, see examples/carparts/NOTICE.md). */
  carparts: join(ROOT, "examples/carparts/carparts.csv"),
  /** test/fixtures/m1/: eight M1 series with their test parts (GPL-3, see test/fixtures/m1/NOTICE.md). */
  m1: join(ROOT, "test/fixtures/m1"),
} as const;

export type SharedDatasetName = "carparts" | "m1";

/** Where each shared data set comes from, for the message that tells a developer how to get it. */
const SOURCES: Record<SharedDatasetName, string> = {
  carparts: "R package expsmooth (https://github.com/robjhyndman/expsmooth, data/carparts.rda)",
  m1: "R package Mcomp (https://github.com/robjhyndman/Mcomp, data/M1.rda)",
};

export interface SharedDataset {
  readonly name: SharedDatasetName;
  /** The data set's folder (it may not exist: see `available`). */
  readonly dir: string;
  readonly available: boolean;
  /** Why the tests that need it are skipped; empty when it is available. */
  readonly skipReason: string;
  /** A file of the data set. */
  file(name: string): string;
}

/** The folder holding the shared data sets: `SKALA_TEST_DATA_DIR`, else `shared/data` beside the checkout. */
export function sharedDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SKALA_TEST_DATA_DIR || join(ROOT, "..", "shared", "data");
}

/**
 * A data set from the shared data folder (`../shared/data/<name>` beside the checkout, or
 * `$SKALA_TEST_DATA_DIR/<name>`), for tests that need more of it than the committed copies hold.
 *
 * Under CI (`CI` set and not "false"/"0") a missing data set throws, so the suite fails instead of passing
 * without the tests, unless `optional` says the tests only add a check that the repository alone cannot make
 * (comparing a committed copy with its original); elsewhere the tests are skipped visibly: use `available` with `it.skipIf` or
 * `describe.skipIf`, and the reason is printed once when the file is collected.
 *
 * @example
 * const m1 = requireDataset("m1");
 * describe.skipIf(!m1.available)(`the full M1 set${m1.skipReason}`, () => {
 *   it("has 1,001 series", () => expect(readFileSync(m1.file("m1_series.csv"), "utf8")).toBeTruthy());
 * });
 */
export function requireDataset(
  name: SharedDatasetName,
  options: { env?: NodeJS.ProcessEnv; warn?: (message: string) => void; optional?: boolean } = {},
): SharedDataset {
  const { env = process.env, warn = console.warn, optional = false } = options;
  const dir = join(sharedDataDir(env), name);
  const available = existsSync(dir);
  const file = (fileName: string) => join(dir, fileName);
  if (available) return { name, dir, available, skipReason: "", file };
  const where =
    `${dir} is missing: copy the "${name}" data set there (source: ${SOURCES[name]}; ` +
    "its README gives the conversion) or point SKALA_TEST_DATA_DIR at a folder holding it";
  if (isCi(env) && !optional) throw new Error(`CI needs the "${name}" data set: ${where}`);
  const skipReason = ` (skipped: ${where})`;
  warn(`[skala tests] skipping tests that need the "${name}" data set: ${where}`);
  return { name, dir, available, skipReason, file };
}

function isCi(env: NodeJS.ProcessEnv): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== "" && value !== "false" && value !== "0";
}
