import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { COMMITTED_DATA, requireDataset } from "../src/core/test-support/datasets.js";

/**
 * The data the tests read is committed (examples/carparts, test/fixtures): these checks tie each copy to its
 * source, so a copy edited by accident fails here rather than shifting the accuracy tests that read it.
 */
const FORECAST_FIXTURES = fileURLToPath(new URL("fixtures/forecast/", import.meta.url));
const M1_FILES = ["m1_series.csv", "m1_train.csv", "m1_test.csv"] as const;

const read = new Map<string, string[]>();
const lines = (path: string): string[] => {
  const cached = read.get(path) ?? readFileSync(path, "utf8").trimEnd().split("\n");
  read.set(path, cached);
  return cached;
};
const seriesId = (line: string) => (line.split(",")[0] ?? "").replaceAll('"', "");

const indexed = new Map<string, Map<string, number[]>>();
/** Values of one series from a long CSV whose last column is the value (empty: missing). */
function values(path: string, id: string): number[] {
  let bySeries = indexed.get(path);
  if (!bySeries) {
    bySeries = new Map();
    for (const line of lines(path).slice(1)) {
      const cell = line.slice(line.lastIndexOf(",") + 1);
      const key = seriesId(line);
      bySeries.set(key, [...(bySeries.get(key) ?? []), cell === "" ? Number.NaN : Number(cell)]);
    }
    indexed.set(path, bySeries);
  }
  return bySeries.get(id) ?? [];
}

interface ForecastFixture {
  source: "carparts" | "m1";
  id: string;
  y: number[];
}

const forecastFixtures = readdirSync(FORECAST_FIXTURES)
  .filter((f) => f.endsWith(".json") && f !== "index.json")
  .map((f) => JSON.parse(readFileSync(join(FORECAST_FIXTURES, f), "utf8")) as ForecastFixture);

describe("committed data", () => {
  it("has the series of every R forecast fixture, with the values R was given", () => {
    expect(forecastFixtures.map((f) => f.source).sort()).toEqual([
      ...Array(8).fill("carparts"),
      ...Array(8).fill("m1"),
    ]);
    const m1Ids = lines(join(COMMITTED_DATA.m1, "m1_series.csv")).slice(1).map(seriesId);
    for (const fixture of forecastFixtures) {
      if (fixture.source === "carparts") {
        // R was given the first 39 months (the last 12 are the holdout).
        expect(values(COMMITTED_DATA.carparts, fixture.id).slice(0, fixture.y.length), fixture.id).toEqual(
          fixture.y,
        );
      } else {
        expect(m1Ids).toContain(fixture.id);
        expect(values(join(COMMITTED_DATA.m1, "m1_train.csv"), fixture.id), fixture.id).toEqual(fixture.y);
      }
    }
  });

  it("holds each M1 series' official test part, as long as its horizon", () => {
    const series = lines(join(COMMITTED_DATA.m1, "m1_series.csv")).slice(1);
    expect(series).toHaveLength(8);
    for (const row of series) {
      const cells = row.split(",");
      const id = seriesId(row);
      expect(values(join(COMMITTED_DATA.m1, "m1_train.csv"), id), id).toHaveLength(Number(cells[5]));
      expect(values(join(COMMITTED_DATA.m1, "m1_test.csv"), id), id).toHaveLength(Number(cells[6]));
    }
  });
});

// Provenance: where the shared folder is beside the checkout, the committed copies must equal its originals. A
// CI clone holds the repository alone, and every other test reads the committed copies, so these are optional.
const carparts = requireDataset("carparts", { optional: true });
const m1 = requireDataset("m1", { optional: true });

describe("committed copies against the shared data sets", () => {
  it.skipIf(!carparts.available)(
    `examples/carparts/carparts.csv is the original file${carparts.skipReason}`,
    () => {
      expect(readFileSync(COMMITTED_DATA.carparts).equals(readFileSync(carparts.file("carparts.csv")))).toBe(
        true,
      );
    },
  );

  it.skipIf(!m1.available)(
    `test/fixtures/m1 holds every row of its series, unchanged${m1.skipReason}`,
    () => {
      for (const name of M1_FILES) {
        const committed = lines(join(COMMITTED_DATA.m1, name));
        const ids = new Set(committed.slice(1).map(seriesId));
        const original = lines(m1.file(name));
        expect(committed[0], name).toBe(original[0]);
        expect(committed.slice(1), name).toEqual(original.slice(1).filter((line) => ids.has(seriesId(line))));
      }
    },
  );
});

describe("requireDataset", () => {
  const empty = mkdtempSync(join(tmpdir(), "skala-datasets-"));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it("fails under CI when a data set is missing, saying where to get it", () => {
    for (const CI of ["true", "1"]) {
      expect(() => requireDataset("m1", { env: { CI, SKALA_TEST_DATA_DIR: empty } })).toThrow(
        new RegExp(`CI needs the "m1" data set: ${empty}/m1 is missing: .*Mcomp.*SKALA_TEST_DATA_DIR`),
      );
    }
  });

  it("elsewhere reports it unavailable with the reason for the skipped tests", () => {
    for (const CI of [undefined, "", "false", "0"]) {
      const warnings: string[] = [];
      const missing = requireDataset("carparts", {
        env: { CI, SKALA_TEST_DATA_DIR: empty },
        warn: (message) => warnings.push(message),
      });
      expect(missing.available).toBe(false);
      expect(missing.skipReason).toMatch(/^ \(skipped: .*carparts is missing: .*expsmooth/);
      expect(warnings).toEqual([expect.stringContaining(`${empty}/carparts is missing`)]);
    }
  });

  it("skips an optional data set under CI too, visibly", () => {
    const warnings: string[] = [];
    const missing = requireDataset("m1", {
      env: { CI: "true", SKALA_TEST_DATA_DIR: empty },
      optional: true,
      warn: (message) => warnings.push(message),
    });
    expect(missing.available).toBe(false);
    expect(warnings).toEqual([expect.stringContaining(`${empty}/m1 is missing`)]);
  });

  it("finds a data set under SKALA_TEST_DATA_DIR", () => {
    mkdirSync(join(empty, "m1"));
    const found = requireDataset("m1", { env: { CI: "true", SKALA_TEST_DATA_DIR: empty } });
    expect(found).toMatchObject({ available: true, skipReason: "", dir: join(empty, "m1") });
    expect(found.file("m1_test.csv")).toBe(join(empty, "m1", "m1_test.csv"));
  });
});
