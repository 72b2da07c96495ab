import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSkalaError, type SkalaError } from "../core/index.js";
import { COMMITTED_DATA } from "../core/test-support/datasets.js";
import {
  type DatasetIssue,
  formatDatasetIssue,
  type LoadSeriesOptions,
  loadSeries,
  loadSeriesFile,
  parseTimestamp,
} from "./series-loader.js";

const CARPARTS = COMMITTED_DATA.carparts;
const HEADER = "series_id,period_index,value\n";

async function* chunks(text: string, size = text.length || 1): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

function load(text: string, options: LoadSeriesOptions = {}) {
  return loadSeries(chunks(text), { fileName: "demand.csv", ...options });
}

async function failure(promise: Promise<unknown>): Promise<SkalaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSkalaError(error)) throw new Error(`expected a SkalaError, got ${String(error)}`);
  return error;
}

async function issuesOf(text: string, options: LoadSeriesOptions = {}): Promise<string[]> {
  const error = await failure(load(text, options));
  expect(error.code).toBe("DATASET_INVALID");
  return ((error.details?.issues ?? []) as DatasetIssue[]).map(formatDatasetIssue);
}

describe("loadSeries: good data", () => {
  it("reads long-format rows in any order into series ordered by period", async () => {
    const { series, firstPeriods, failures, stats } = await load(
      `${HEADER}B,2,5\nA,1,1\nA,3,3\nA,2,2\nB,1,4\n`,
    );
    expect(failures).toEqual([]);
    expect([...series.keys()]).toEqual(["B", "A"]);
    expect([...(series.get("A") ?? [])]).toEqual([1, 2, 3]);
    expect([...(series.get("B") ?? [])]).toEqual([4, 5]);
    expect(firstPeriods.get("A")).toBe(1);
    expect(stats).toMatchObject({ rows: 5, series: 2, loaded: 2, failed: 0, naCells: 0 });
  });

  it("accepts negative, decimal and exponent values, quoted fields, CRLF, a BOM, blank lines and extra columns", async () => {
    const text = `\uFEFFseries_id,period_index,value,note\r\n"A",1,-1.5,x\r\n\r\nA,2,2e1,"a, b"\r\nA,3,.5,\r\n`;
    const { series } = await load(text);
    expect([...(series.get("A") ?? [])]).toEqual([-1.5, 20, 0.5]);
  });

  it("trims leading and trailing NAs under every policy", async () => {
    for (const na of ["drop", "zero", "interpolate", "error"] as const) {
      const { series, firstPeriods, stats } = await load(`${HEADER}A,1,\nA,2,1\nA,3,2\nA,4,NA\nA,5,\n`, {
        na,
      });
      expect([...(series.get("A") ?? [])]).toEqual([1, 2]);
      expect(firstPeriods.get("A")).toBe(2);
      expect(stats.trimmedCells).toBe(3);
    }
  });

  it("fills interior NA cells and missing periods according to the NA policy", async () => {
    const text = `${HEADER}A,1,1\nA,2,\nA,3,3\nA,6,6\n`; // period 2 is NA, 4 and 5 have no row
    const values = async (na: LoadSeriesOptions["na"]) => [
      ...((await load(text, { na })).series.get("A") ?? []),
    ];
    expect(await values("drop")).toEqual([1, 3, 6]);
    expect(await values("zero")).toEqual([1, 0, 3, 0, 0, 6]);
    expect(await values("interpolate")).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await issuesOf(text, { na: "error" })).toEqual([
      'demand.csv:3:3: missing value for series "A" at period 2 (the NA policy is "error"; choose drop, zero or interpolate to accept it)',
      'demand.csv:5:2: series "A" has no row for periods 4 to 5 (the NA policy is "error"; choose drop, zero or interpolate to accept gaps)',
    ]);
  });

  it("returns per-series failures next to the good series: a one-point series, an all-NA series", async () => {
    const { series, failures, stats } = await load(`${HEADER}A,1,1\nA,2,2\nONE,1,7\nEMPTY,1,\nEMPTY,2,NA\n`);
    expect([...series.keys()]).toEqual(["A"]);
    expect(failures).toEqual([
      {
        seriesId: "ONE",
        reason: "TOO_SHORT",
        message: 'series "ONE" has 1 value, at least 2 needed',
        length: 1,
      },
      { seriesId: "EMPTY", reason: "ALL_NA", message: 'series "EMPTY" has no values', length: 0 },
    ]);
    expect(stats).toMatchObject({ series: 3, loaded: 1, failed: 2, naCells: 2 });
  });

  it("fails only the series with a non-numeric value when invalidValues is fail-series", async () => {
    const { series, failures } = await load(`${HEADER}A,1,1\nA,2,2\nB,1,1\nB,2,abc\n`, {
      invalidValues: "fail-series",
    });
    expect([...series.keys()]).toEqual(["A"]);
    expect(failures).toEqual([
      { seriesId: "B", reason: "INVALID_VALUE", message: "demand.csv:5:3: the value is not a number" },
    ]);
  });

  it("buckets ISO timestamps by frequency, with custom column names", async () => {
    const text = "part,month,qty\nP,2020-01-15,1\nP,2020-03,3\nP,2020-02-01T10:00:00Z,2\n";
    const { series, firstPeriods } = await load(text, {
      columns: { series: "part", time: "month", timeKind: "timestamp", value: "qty" },
      frequency: "monthly",
    });
    expect([...(series.get("P") ?? [])]).toEqual([1, 2, 3]);
    expect(firstPeriods.get("P")).toBe(2020 * 12);
    expect(parseTimestamp("2021-02-29", "daily")).toMatch(/not a calendar date/);
    expect(parseTimestamp("2020-Q3", "quarterly")).toBe(2020 * 4 + 2);
    expect(parseTimestamp("2024-01-01", "weekly")).toBe(parseTimestamp("2024-01-07", "weekly"));
    expect(parseTimestamp("2024-01-08", "weekly")).toBe(
      (parseTimestamp("2024-01-07", "weekly") as number) + 1,
    );
  });

  it("loads carparts: 2,674 series, the 2,509 complete ones with 51 points", async () => {
    const { series, failures, stats } = await loadSeriesFile(CARPARTS);
    expect(series.size).toBe(2674);
    expect(failures).toEqual([]);
    const lengths = new Map<number, number>();
    for (const y of series.values()) lengths.set(y.length, (lengths.get(y.length) ?? 0) + 1);
    expect(lengths.get(51)).toBe(2509);
    // The other 165 stop after 12, 13 or 14 months: their trailing NAs are trimmed.
    expect(Object.fromEntries(lengths)).toEqual({ 12: 7, 13: 3, 14: 155, 51: 2509 });
    expect(stats).toMatchObject({ rows: 136_374, naCells: 6122, trimmedCells: 6122, bytes: 1_879_477 });
  });
});

describe("loadSeries: bad data gives file, line and column", () => {
  it("an empty file", async () => {
    expect(await issuesOf("")).toEqual([
      "demand.csv:1: the file is empty; expected a header row naming series_id, period_index and value",
    ]);
  });

  it("a header with no rows", async () => {
    expect(await issuesOf(HEADER)).toEqual(["demand.csv:1: the file has a header row but no data rows"]);
    expect(await issuesOf(`${HEADER}\n\n`)).toEqual([
      "demand.csv:1: the file has a header row but no data rows",
    ]);
  });

  it("missing header columns, named without quoting the header (a file's content)", async () => {
    expect(await issuesOf("series_id,period,amount\nA,1,2\n")).toEqual([
      'demand.csv:1: missing columns "period_index", "value" in the header (3 columns); dataset.columns in the spec names the columns to read',
    ]);
    expect(await issuesOf("Series_ID,period_idx,valu\nA,1,2\n")).toEqual([
      'demand.csv:1: missing columns "series_id", "period_index", "value" in the header (3 columns; column 1 is close to "series_id", column 2 is close to "period_index", column 3 is close to "value"); dataset.columns in the spec names the columns to read',
    ]);
  });

  it("never quotes the file: a secret in place of the header, or in any cell, stays out of every message", async () => {
    // A spec that names /etc/passwd, or any file that is no dataset: its first line is taken for the header.
    const SECRET = "root:x:0:0:secret";
    const files = [
      `${SECRET}\ndaemon:x:1:1:daemon:/usr/sbin:/bin/sh\n`,
      `${SECRET},${SECRET}\n1,2\n`,
      `${HEADER}A,${SECRET},1\nA,2,${SECRET}\n`,
      `${HEADER}A,1,"${SECRET}"x\n`,
    ];
    for (const text of files) {
      const error = await failure(load(text));
      expect(error.code).toBe("DATASET_INVALID");
      expect(error.message).not.toContain("secret");
      expect(JSON.stringify(error.details)).not.toContain("secret");
    }
    const timestamps = await failure(
      load(`series_id,month,value\nA,${SECRET},1\n`, {
        columns: { time: "month", timeKind: "timestamp" },
        frequency: "monthly",
      }),
    );
    expect(timestamps.message).toBe(
      "demand.csv:2:2: the timestamp is not an ISO date (YYYY, YYYY-MM or YYYY-MM-DD)",
    );
    const { failures } = await load(`${HEADER}A,1,1\nA,2,${SECRET}\n`, { invalidValues: "fail-series" });
    expect(JSON.stringify(failures)).not.toContain("secret");
  });

  it("malformed rows, text in the value column, non-finite values, bad periods, empty ids, duplicates — all at once", async () => {
    const text = [
      "series_id,period_index,value",
      "A,1,1", // 2
      "A,2", // 3: too few fields
      "A,3,3,9", // 4: too many
      "A,4,abc", // 5
      "A,5,NaN", // 6
      "A,6,-Infinity", // 7
      "A,x,1", // 8
      ",7,1", // 9
      "A,9,1e999", // 10
      "B,1,1", // 11
      "B,2,2", // 12
      "B,1,3", // 13: duplicate of line 11
    ].join("\n");
    expect(await issuesOf(text)).toEqual([
      "demand.csv:3:3: expected 3 fields as in the header, found 2",
      "demand.csv:4:4: expected 3 fields as in the header, found 4",
      "demand.csv:5:3: the value is not a number",
      "demand.csv:6:3: the value is not a finite number (leave the cell empty or write NA for a missing value)",
      "demand.csv:7:3: the value is not a finite number (leave the cell empty or write NA for a missing value)",
      "demand.csv:8:2: the period is not an integer period index",
      'demand.csv:9:1: empty series id in column "series_id"',
      "demand.csv:10:3: the value is out of range for a 64-bit float",
      'demand.csv:13:2: duplicate period 1 for series "B" (first at line 11)',
    ]);
  });

  it("bad quoting stops reading at the line it happens, keeping the problems before it", async () => {
    const text = `${HEADER}A,1,abc\nA,2,"3"x\nA,3,oops\n`;
    expect(await issuesOf(text)).toEqual([
      "demand.csv:2:3: the value is not a number",
      "demand.csv:3:3: bad quoting (invalid closing quote); the rest of the file cannot be read reliably, reading stopped here",
    ]);
    expect(await issuesOf(`${HEADER}A,1,1\nA,2,"3\n`)).toEqual([
      "demand.csv:3:3: a quoted field is never closed; reading stopped here",
    ]);
  });

  it("counts lines inside quoted fields that contain line breaks", async () => {
    const text = `series_id,period_index,value,note\nA,1,1,"two\nlines"\nA,2,x,\n`;
    expect(await issuesOf(text)).toEqual(["demand.csv:4:3: the value is not a number"]);
  });

  it("stops after maxIssues problems", async () => {
    const rows = Array.from({ length: 500 }, (_, i) => `A,${i},bad`).join("\n");
    const error = await failure(load(`${HEADER}${rows}`, { maxIssues: 100 }));
    expect(error.details?.issues).toHaveLength(100);
    expect(error.details?.truncated).toBe(true);
    expect(error.message).toMatch(/^demand\.csv: 100 problems \(stopped after 100\)\n/);
  });

  it("a missing file", async () => {
    const error = await failure(loadSeriesFile("/nonexistent/demand.csv"));
    expect(error.code).toBe("DATASET_INVALID");
    expect(error.message).toBe("demand.csv: cannot read: no such file");
  });

  it("one 100 MB line fails fast, after reading about one record", async () => {
    const dir = await mkdtemp(join(tmpdir(), "skala-loader-"));
    try {
      const path = join(dir, "huge.csv");
      const handle = await open(path, "w");
      const block = Buffer.alloc(1024 * 1024, "9");
      await handle.write(`${HEADER}A,1,`);
      for (let i = 0; i < 100; i++) await handle.write(block);
      await handle.write("\n");
      await handle.close();

      const started = performance.now();
      const error = await failure(loadSeriesFile(path));
      expect(performance.now() - started).toBeLessThan(1000);
      expect(error.details?.issues).toEqual([
        {
          file: "huge.csv",
          line: 2,
          column: 3,
          message:
            "a record is longer than 1 MiB (is this a CSV file with line breaks?); reading stopped here",
        },
      ]);
      // Only a few read-ahead chunks past the limit, not the 100 MB.
      expect(error.details?.bytesRead).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("loadSeries: properties", () => {
  const csvText = fc
    .array(
      fc.oneof(
        fc.constantFrom(
          "series_id,period_index,value",
          "A",
          "B",
          "1",
          "2",
          "-3",
          "1.5",
          "NA",
          "",
          "abc",
          "NaN",
        ),
        fc.constantFrom(",", "\n", "\r\n", '"', " ", "\uFEFF"),
        fc.string({ maxLength: 4 }),
      ),
      { maxLength: 60 },
    )
    .map((parts) => parts.join(""));

  it("random text never throws anything but a SkalaError", async () => {
    await fc.assert(
      fc.asyncProperty(
        csvText,
        fc.constantFrom("drop", "zero", "interpolate", "error") as fc.Arbitrary<
          "drop" | "zero" | "interpolate" | "error"
        >,
        async (text, na) => {
          await load(text, { na }).catch((error: unknown) => {
            if (!isSkalaError(error)) throw error;
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("chunk boundaries never change the result", async () => {
    const rows = fc
      .array(
        fc.tuple(
          fc.constantFrom("A", "B", '"C,1"'),
          fc.integer({ min: 1, max: 8 }),
          fc.constantFrom("1", "0", "", "x", "2.5"),
        ),
        { maxLength: 20 },
      )
      .map((r) => HEADER + r.map(([s, p, v]) => `${s},${p},${v}`).join("\n"));
    const outcome = async (text: string, size: number) =>
      loadSeries(chunks(text, size), { fileName: "f.csv", na: "zero" }).then(
        (r) => ({ series: [...r.series].map(([k, v]) => [k, [...v]]), failures: r.failures }),
        (e: SkalaError) => ({ code: e.code, issues: e.details?.issues }),
      );
    await fc.assert(
      fc.asyncProperty(rows, fc.integer({ min: 1, max: 16 }), async (text, size) => {
        expect(await outcome(text, size)).toEqual(await outcome(text, text.length + 1));
      }),
      { numRuns: 200 },
    );
  });
});
