import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { pipeline, Readable } from "node:stream";
import { CsvError, parse } from "csv-parse";
import { csvErrorMessage, SkalaError } from "../core/index.js";
import { nearest } from "./spec-issues.js";

/** What to do with an empty or `NA` value cell, or a period with no row at all, inside a series. */
export type NaPolicy = "drop" | "zero" | "interpolate" | "error";
export const NA_POLICIES: readonly NaPolicy[] = ["drop", "zero", "interpolate", "error"];

export type Frequency = "yearly" | "quarterly" | "monthly" | "weekly" | "daily";
export const FREQUENCIES: readonly Frequency[] = ["yearly", "quarterly", "monthly", "weekly", "daily"];

/**
 * What a value cell that is not a number does: `reject` makes it a file error (nothing loads);
 * `fail-series` fails only that series (reason INVALID_VALUE) so that the rest of a fleet carries on.
 */
export type InvalidValuePolicy = "reject" | "fail-series";
export const INVALID_VALUE_POLICIES: readonly InvalidValuePolicy[] = ["reject", "fail-series"];

/** `period`: the time column holds integer period indexes; `timestamp`: ISO dates, bucketed by frequency. */
export type TimeKind = "period" | "timestamp";

export interface SeriesColumns {
  readonly series: string;
  readonly time: string;
  readonly timeKind: TimeKind;
  readonly value: string;
}

export const DEFAULT_COLUMNS: SeriesColumns = Object.freeze({
  series: "series_id",
  time: "period_index",
  timeKind: "period",
  value: "value",
});

export interface LoadSeriesOptions {
  /** Name used in messages (`demand.csv:17:3: …`); the file's base name for `loadSeriesFile`. */
  readonly fileName?: string;
  readonly columns?: Partial<SeriesColumns>;
  /** Needed when the time column holds timestamps: it decides which dates fall into the same period. */
  readonly frequency?: Frequency;
  /** Default `error`: missing values are reported rather than silently invented. */
  readonly na?: NaPolicy;
  /** Default `reject`. */
  readonly invalidValues?: InvalidValuePolicy;
  /** Series shorter than this after the NA policy fail with TOO_SHORT. Default 2 (nothing fits one point). */
  readonly minLength?: number;
  /** Longest CSV record in bytes (default 1 MiB): a file without line breaks fails fast in bounded memory. */
  readonly maxRecordBytes?: number;
  /** Problems collected before the load stops and reports them (default 100). */
  readonly maxIssues?: number;
  /** Longest series in periods when gaps are filled (default 1,000,000), so a typo in a period cannot allocate gigabytes. */
  readonly maxSeriesLength?: number;
}

/** One problem in the file; `column` is 1-based and absent when the problem is not about one cell. */
export interface DatasetIssue {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly message: string;
}

export type SeriesFailureReason = "TOO_SHORT" | "ALL_NA" | "INVALID_VALUE";

/** A series that cannot be trained; not a file error, so the other series still load. */
export interface SeriesFailure {
  readonly seriesId: string;
  readonly reason: SeriesFailureReason;
  readonly message: string;
  /** Observations left after the NA policy (TOO_SHORT, ALL_NA). */
  readonly length?: number;
}

export interface LoadStats {
  /** Bytes read from the source. */
  readonly bytes: number;
  /** Data rows (records after the header). */
  readonly rows: number;
  /** Distinct series ids, loaded or failed. */
  readonly series: number;
  readonly loaded: number;
  readonly failed: number;
  /** Empty or NA value cells in the file. */
  readonly naCells: number;
  /** Periods inside a series with no row at all. */
  readonly gapPeriods: number;
  /** Leading and trailing NA cells removed. */
  readonly trimmedCells: number;
  /** Interior NA cells and gap periods filled by the `zero` or `interpolate` policy. */
  readonly filledCells: number;
  /** Interior NA cells and gap periods left out by the `drop` policy. */
  readonly droppedCells: number;
}

export interface LoadedSeries {
  /** Good series in order of first appearance, values ordered by period. */
  readonly series: Map<string, Float64Array>;
  /** Period index of each good series' first value (the time axis after trimming). */
  readonly firstPeriods: Map<string, number>;
  readonly failures: SeriesFailure[];
  readonly stats: LoadStats;
}

const MIB = 1024 * 1024;
/** Cells that mean "missing". `NaN` is deliberately not one of them: it reads as a computation gone wrong. */
const NA_TOKENS = new Set(["", "NA", "N/A", "null", "NULL"]);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?)?$/;
const QUARTER = /^(\d{4})-?Q([1-4])$/;
const DAY_MS = 86_400_000;
/** 1970-01-05 was a Monday: weeks run Monday to Sunday, as ISO weeks do. */
const FIRST_MONDAY = 4;

interface Accumulator {
  periods: number[];
  values: number[];
  lines: number[];
  invalid: SeriesFailure | undefined;
}

class IssueLimitReached extends Error {}

/**
 * Reads a long-format CSV (series id, period index or ISO date, value; a header row names the columns) into
 * one Float64Array per series, ordered by period. File problems (missing columns, ragged rows, bad quoting,
 * text in the value column, duplicated periods, …) are collected with file, line and column and thrown
 * together as DATASET_INVALID; series that merely cannot be trained (one point, all NA) come back as
 * failures next to the good series.
 *
 * @example
 * const { series, failures } = await loadSeries(createReadStream("demand.csv"), { fileName: "demand.csv", na: "zero" });
 */
export async function loadSeries(
  source: AsyncIterable<Uint8Array>,
  options: LoadSeriesOptions = {},
): Promise<LoadedSeries> {
  const file = options.fileName ?? "input.csv";
  const columns: SeriesColumns = { ...DEFAULT_COLUMNS, ...options.columns };
  const na = options.na ?? "error";
  const invalidValues = options.invalidValues ?? "reject";
  const minLength = options.minLength ?? 2;
  const maxIssues = options.maxIssues ?? 100;
  const maxSeriesLength = options.maxSeriesLength ?? 1_000_000;
  const maxRecordBytes = options.maxRecordBytes ?? MIB;
  if (columns.timeKind === "timestamp" && options.frequency === undefined) {
    throw new SkalaError("VALIDATION_FAILED", "a timestamp column needs a frequency to bucket dates", {
      issues: [{ path: "/frequency", message: "required when the time column holds timestamps" }],
    });
  }

  const issues: DatasetIssue[] = [];
  let stoppedEarly = false;
  const report = (line: number, column: number | undefined, message: string): void => {
    issues.push(column === undefined ? { file, line, message } : { file, line, column, message });
    if (issues.length >= maxIssues) throw new IssueLimitReached();
  };

  let bytes = 0;
  // The first CSV-level error (bad quoting, an over-long record): csv-parse cannot resynchronise after one,
  // so everything it emits afterwards is ignored and the source stops being read.
  let csvError: CsvError | undefined;
  let recordsBeforeCsvError = Number.POSITIVE_INFINITY;
  async function* buffers(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      if (csvError) return;
      bytes += chunk.byteLength;
      yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  }
  const parser = parse({
    bom: true,
    relax_column_count: true,
    // Empty lines come through as [""] and are skipped below, so that counting records counts lines:
    // csv-parse's own per-record `info` would do it too, but costs more than the parsing itself.
    skip_empty_lines: false,
    max_record_size: maxRecordBytes,
    skip_records_with_error: true,
    on_skip: (error) => {
      if (error && !csvError) {
        csvError = error;
        const records = (error as CsvError & { records?: unknown }).records;
        recordsBeforeCsvError = typeof records === "number" ? records : 0;
      }
      return undefined;
    },
  });

  let header: string[] | undefined;
  let seriesCol = -1;
  let timeCol = -1;
  let valueCol = -1;
  let rows = 0;
  let naCells = 0;
  let line = 0;
  let recordIndex = 0;
  let finished = false;
  const accumulators = new Map<string, Accumulator>();

  const onRecord = (record: string[]): void => {
    if (recordIndex++ >= recordsBeforeCsvError) return;
    line += 1;
    for (const field of record) {
      // A quoted field with line breaks spans several lines; the record ends on the last one.
      for (let at = field.indexOf("\n"); at !== -1; at = field.indexOf("\n", at + 1)) line++;
    }
    if (record.length === 1 && record[0] === "") return;
    if (!header) {
      header = record.map((name) => name.trim());
      const found = checkHeader(header, columns, line, report);
      if (!found) {
        finished = true;
        return;
      }
      [seriesCol, timeCol, valueCol] = found;
      return;
    }
    rows++;
    if (record.length !== header.length) {
      report(
        line,
        Math.min(record.length, header.length) + 1,
        `expected ${header.length} fields as in the header, found ${record.length}`,
      );
      return;
    }
    const id = (record[seriesCol] as string).trim();
    if (id === "") {
      report(line, seriesCol + 1, `empty series id in column "${columns.series}"`);
      return;
    }
    const timeText = (record[timeCol] as string).trim();
    const period =
      columns.timeKind === "period"
        ? parsePeriodIndex(timeText)
        : parseTimestamp(timeText, options.frequency ?? "daily");
    if (typeof period === "string") {
      report(line, timeCol + 1, period);
      return;
    }
    let acc = accumulators.get(id);
    if (!acc) {
      acc = { periods: [], values: [], lines: [], invalid: undefined };
      accumulators.set(id, acc);
    }
    const valueText = (record[valueCol] as string).trim();
    let value: number;
    if (NA_TOKENS.has(valueText)) {
      naCells++;
      value = Number.NaN;
    } else {
      const parsed = parseValue(valueText);
      if (typeof parsed === "string") {
        if (invalidValues === "reject") report(line, valueCol + 1, parsed);
        else
          acc.invalid ??= {
            seriesId: id,
            reason: "INVALID_VALUE",
            message: `${file}:${line}:${valueCol + 1}: ${parsed}`,
          };
        return;
      }
      value = parsed;
    }
    acc.periods.push(period);
    acc.values.push(value);
    acc.lines.push(line);
  };

  let sourceError: unknown;
  await new Promise<void>((resolve) => {
    // 'data' events, not for-await: an await per record costs more than parsing the record.
    parser.on("data", (record: string[]) => {
      if (finished) return;
      try {
        onRecord(record);
      } catch (error) {
        if (error instanceof IssueLimitReached) stoppedEarly = true;
        else sourceError = error;
        finished = true;
      }
      // Destroying the parser makes pipeline destroy the source too: a huge file stops being read.
      if (finished) parser.destroy();
    });
    pipeline(Readable.from(buffers()), parser, (error) => {
      if (error && !finished && !(error instanceof CsvError)) sourceError ??= error;
      resolve();
    });
  });
  if (csvError && !stoppedEarly) {
    stoppedEarly = true;
    issues.push(csvIssue(file, csvError, maxRecordBytes));
  }
  if (sourceError !== undefined) {
    const reason = sourceError instanceof Error ? sourceError.message : String(sourceError);
    throw new SkalaError("DATASET_INVALID", `${file}: cannot read: ${reason}`, {
      file,
      issues: [{ file, line: 0, message: `cannot read: ${reason}` }],
    });
  }

  if (!header && issues.length === 0) {
    issues.push({
      file,
      line: 1,
      message: `the file is empty; expected a header row naming ${columns.series}, ${columns.time} and ${columns.value}`,
    });
  } else if (header && rows === 0 && issues.length === 0 && !stoppedEarly) {
    issues.push({ file, line: 1, message: "the file has a header row but no data rows" });
  }

  const series = new Map<string, Float64Array>();
  const firstPeriods = new Map<string, number>();
  const failures: SeriesFailure[] = [];
  const counts = { gapPeriods: 0, trimmedCells: 0, filledCells: 0, droppedCells: 0 };
  // Row problems do not hide series problems (duplicates, gaps): the user sees them all at once, unless
  // reading stopped early and the series are incomplete.
  if (!stoppedEarly && header) {
    try {
      for (const [id, acc] of accumulators) {
        if (acc.invalid) {
          failures.push(acc.invalid);
          continue;
        }
        const done = finishSeries(id, acc, {
          na,
          minLength,
          maxSeriesLength,
          timeCol: timeCol + 1,
          valueCol: valueCol + 1,
          report,
          counts,
        });
        if (!done) continue;
        if ("reason" in done) failures.push(done);
        else {
          series.set(id, done.values);
          firstPeriods.set(id, done.firstPeriod);
        }
      }
    } catch (error) {
      if (!(error instanceof IssueLimitReached)) throw error;
      stoppedEarly = true;
    }
  }

  if (issues.length > 0) throw datasetError(file, issues, { stoppedEarly, maxIssues, bytes });
  return {
    series,
    firstPeriods,
    failures,
    stats: {
      bytes,
      rows,
      series: accumulators.size,
      loaded: series.size,
      failed: failures.length,
      naCells,
      ...counts,
    },
  };
}

/**
 * `loadSeries` over a file; relative names in messages use the file's base name.
 * A missing or unreadable file is DATASET_INVALID too.
 */
export async function loadSeriesFile(path: string, options: LoadSeriesOptions = {}): Promise<LoadedSeries> {
  const file = options.fileName ?? basename(path);
  let problem: string | undefined;
  try {
    const info = await stat(path);
    if (!info.isFile()) problem = "not a regular file";
  } catch (error) {
    problem = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error);
  }
  if (problem) {
    throw new SkalaError("DATASET_INVALID", `${file}: cannot read: ${problem}`, {
      file,
      path,
      issues: [{ file, line: 0, message: `cannot read: ${problem}` }],
    });
  }
  return loadSeries(createReadStream(path, { highWaterMark: 256 * 1024 }), { ...options, fileName: file });
}

/** Formats issues the way compilers do, so editors can jump to them. */
export function formatDatasetIssue(issue: DatasetIssue): string {
  const where = issue.column === undefined ? `${issue.line}` : `${issue.line}:${issue.column}`;
  return `${issue.file}:${where}: ${issue.message}`;
}

function checkHeader(
  header: string[],
  columns: SeriesColumns,
  line: number,
  report: (line: number, column: number | undefined, message: string) => void,
): [number, number, number] | undefined {
  const seen = new Map<string, number>();
  header.forEach((name, index) => {
    const earlier = seen.get(name);
    if (earlier !== undefined && [columns.series, columns.time, columns.value].includes(name)) {
      report(line, index + 1, `column "${name}" appears twice (also column ${earlier + 1})`);
    }
    if (earlier === undefined) seen.set(name, index);
  });
  const wanted = [columns.series, columns.time, columns.value];
  const found = wanted.map((name) => header.indexOf(name));
  const missing = wanted.filter((_, i) => found[i] === -1);
  if (missing.length > 0) {
    // The header is the file's content, which a message never quotes (the first line of a file that is no
    // dataset at all can be anything): it names the spec's columns, and where the header has one like them.
    const near = missing.flatMap((name) => {
      const close = nearest(name, header);
      return close === undefined ? [] : [`column ${header.indexOf(close) + 1} is close to "${name}"`];
    });
    report(
      line,
      undefined,
      `missing column${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")} in the header ` +
        `(${header.length} column${header.length === 1 ? "" : "s"}${near.length > 0 ? `; ${near.join(", ")}` : ""}); ` +
        "dataset.columns in the spec names the columns to read",
    );
    return undefined;
  }
  return found as [number, number, number];
}

function parsePeriodIndex(text: string): number | string {
  if (!INTEGER.test(text)) return "the period is not an integer period index";
  const n = Number(text);
  if (!Number.isSafeInteger(n)) return "the period is out of range";
  return n;
}

/**
 * Maps a date to a period index of the frequency, using the calendar date as written (a time or offset,
 * if any, is ignored) so that the bucket never depends on the server's time zone.
 */
export function parseTimestamp(text: string, frequency: Frequency): number | string {
  const quarter = QUARTER.exec(text);
  if (quarter && frequency === "quarterly") return Number(quarter[1]) * 4 + Number(quarter[2]) - 1;
  const match = DATE.exec(text);
  if (!match) return "the timestamp is not an ISO date (YYYY, YYYY-MM or YYYY-MM-DD)";
  const year = Number(match[1]);
  const month = match[2] === undefined ? undefined : Number(match[2]);
  const day = match[3] === undefined ? undefined : Number(match[3]);
  if (month !== undefined && (month < 1 || month > 12)) return `the timestamp has no month ${month}`;
  let days: number | undefined;
  if (month !== undefined && day !== undefined) {
    const ms = Date.UTC(year, month - 1, day);
    const back = new Date(ms);
    if (back.getUTCDate() !== day || back.getUTCMonth() !== month - 1) {
      return "the timestamp is not a calendar date";
    }
    days = Math.round(ms / DAY_MS);
  }
  switch (frequency) {
    case "yearly":
      return year;
    case "quarterly":
      if (month === undefined) return "the timestamp needs a month (or YYYY-Qn) for quarterly data";
      return year * 4 + Math.floor((month - 1) / 3);
    case "monthly":
      if (month === undefined) return "the timestamp needs a month for monthly data";
      return year * 12 + month - 1;
    case "weekly":
      if (days === undefined) return "the timestamp needs a full date for weekly data";
      return Math.floor((days - FIRST_MONDAY) / 7);
    case "daily":
      if (days === undefined) return "the timestamp needs a full date for daily data";
      return days;
    default: {
      const never: never = frequency;
      return `unknown frequency ${String(never)}`;
    }
  }
}

function parseValue(text: string): number | string {
  if (!NUMBER.test(text)) {
    return /^[+-]?(nan|inf(inity)?)$/i.test(text)
      ? "the value is not a finite number (leave the cell empty or write NA for a missing value)"
      : "the value is not a number";
  }
  const n = Number(text);
  return Number.isFinite(n) ? n : "the value is out of range for a 64-bit float";
}

function csvIssue(file: string, error: CsvError, maxRecordBytes: number): DatasetIssue {
  const context = error as CsvError & { lines?: number; column?: number };
  const line = typeof context.lines === "number" ? context.lines : 0;
  const column = typeof context.column === "number" ? context.column + 1 : undefined;
  let message: string;
  switch (error.code) {
    case "CSV_MAX_RECORD_SIZE":
      message = `a record is longer than ${formatBytes(maxRecordBytes)} (is this a CSV file with line breaks?); reading stopped here`;
      break;
    case "CSV_QUOTE_NOT_CLOSED":
      message = "a quoted field is never closed; reading stopped here";
      break;
    case "CSV_INVALID_CLOSING_QUOTE":
    case "INVALID_OPENING_QUOTE":
    case "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE":
      message = `bad quoting (${error.message.split(":")[0]?.toLowerCase()}); the rest of the file cannot be read reliably, reading stopped here`;
      break;
    default:
      // csv-parse's own messages may quote the field they stopped in.
      message = `${csvErrorMessage(error)}; reading stopped here`;
  }
  return column === undefined ? { file, line, message } : { file, line, column, message };
}

function formatBytes(n: number): string {
  return n % MIB === 0 ? `${n / MIB} MiB` : `${n} bytes`;
}

function datasetError(
  file: string,
  issues: DatasetIssue[],
  { stoppedEarly, maxIssues, bytes }: { stoppedEarly: boolean; maxIssues: number; bytes: number },
): SkalaError {
  const sorted = [...issues].sort((a, b) => a.line - b.line || (a.column ?? 0) - (b.column ?? 0));
  const shown = sorted.slice(0, 20).map(formatDatasetIssue);
  const more = sorted.length > shown.length ? [`… and ${sorted.length - shown.length} more`] : [];
  const stopped = stoppedEarly && sorted.length >= maxIssues ? ` (stopped after ${maxIssues})` : "";
  const summary =
    sorted.length === 1
      ? (shown[0] as string)
      : [`${file}: ${sorted.length} problems${stopped}`, ...shown.map((s) => `  ${s}`), ...more].join("\n");
  // bytesRead shows how early reading stopped (a 100 MB line costs about one record, not the file).
  return new SkalaError("DATASET_INVALID", summary, {
    file,
    issues: sorted,
    truncated: stoppedEarly,
    bytesRead: bytes,
  });
}

interface FinishContext {
  na: NaPolicy;
  minLength: number;
  maxSeriesLength: number;
  timeCol: number;
  valueCol: number;
  report: (line: number, column: number | undefined, message: string) => void;
  counts: { gapPeriods: number; trimmedCells: number; filledCells: number; droppedCells: number };
}

/** Orders one series by period, checks duplicates, trims, applies the NA policy. */
function finishSeries(
  id: string,
  acc: Accumulator,
  ctx: FinishContext,
): { values: Float64Array; firstPeriod: number } | SeriesFailure | undefined {
  const n = acc.periods.length;
  let order: number[] | undefined;
  for (let i = 1; i < n; i++) {
    if ((acc.periods[i] as number) <= (acc.periods[i - 1] as number)) {
      // Files are usually sorted already; only sort (stably, so "first at line" is the earlier line) when not.
      order = Array.from({ length: n }, (_, k) => k).sort(
        (a, b) => (acc.periods[a] as number) - (acc.periods[b] as number) || a - b,
      );
      break;
    }
  }
  const at = (k: number): number => (order ? (order[k] as number) : k);
  const period = (k: number): number => acc.periods[at(k)] as number;
  const value = (k: number): number => acc.values[at(k)] as number;
  const line = (k: number): number => acc.lines[at(k)] as number;

  let duplicates = false;
  for (let k = 1; k < n; k++) {
    if (period(k) === period(k - 1)) {
      duplicates = true;
      ctx.report(
        line(k),
        ctx.timeCol,
        `duplicate period ${period(k)} for series ${JSON.stringify(id)} (first at line ${line(k - 1)})`,
      );
    }
  }
  if (duplicates) return undefined;

  let first = 0;
  while (first < n && Number.isNaN(value(first))) first++;
  if (first === n) {
    ctx.counts.trimmedCells += n;
    return {
      seriesId: id,
      reason: "ALL_NA",
      message: `series ${JSON.stringify(id)} has no values`,
      length: 0,
    };
  }
  let last = n - 1;
  while (Number.isNaN(value(last))) last--;
  ctx.counts.trimmedCells += first + (n - 1 - last);

  const span = period(last) - period(first) + 1;
  let gaps = 0;
  for (let k = first + 1; k <= last; k++) gaps += period(k) - period(k - 1) - 1;
  ctx.counts.gapPeriods += gaps;

  let values: Float64Array;
  switch (ctx.na) {
    case "drop": {
      const kept: number[] = [];
      for (let k = first; k <= last; k++) {
        const v = value(k);
        if (!Number.isNaN(v)) kept.push(v);
      }
      ctx.counts.droppedCells += last - first + 1 - kept.length + gaps;
      values = Float64Array.from(kept);
      break;
    }
    case "zero":
    case "interpolate": {
      if (span > ctx.maxSeriesLength) {
        ctx.report(
          line(last),
          ctx.timeCol,
          `series ${JSON.stringify(id)} spans ${span} periods (${period(first)} to ${period(last)}), more than ${ctx.maxSeriesLength}; is a period mistyped?`,
        );
        return undefined;
      }
      values = new Float64Array(span).fill(ctx.na === "zero" ? 0 : Number.NaN);
      const origin = period(first);
      for (let k = first; k <= last; k++) {
        const v = value(k);
        if (!Number.isNaN(v)) values[period(k) - origin] = v;
      }
      let filled = 0;
      if (ctx.na === "interpolate") filled = interpolate(values);
      else for (let k = first; k <= last; k++) if (Number.isNaN(value(k))) filled++;
      ctx.counts.filledCells += ctx.na === "zero" ? filled + gaps : filled;
      break;
    }
    case "error": {
      let bad = false;
      for (let k = first; k <= last; k++) {
        if (Number.isNaN(value(k))) {
          bad = true;
          ctx.report(
            line(k),
            ctx.valueCol,
            `missing value for series ${JSON.stringify(id)} at period ${period(k)} (the NA policy is "error"; choose drop, zero or interpolate to accept it)`,
          );
        }
        if (k > first && period(k) - period(k - 1) > 1) {
          bad = true;
          const from = period(k - 1) + 1;
          const to = period(k) - 1;
          ctx.report(
            line(k),
            ctx.timeCol,
            `series ${JSON.stringify(id)} has no row for period${from === to ? ` ${from}` : `s ${from} to ${to}`} (the NA policy is "error"; choose drop, zero or interpolate to accept gaps)`,
          );
        }
      }
      if (bad) return undefined;
      values = new Float64Array(last - first + 1);
      for (let k = first; k <= last; k++) values[k - first] = value(k);
      break;
    }
    default: {
      const never: never = ctx.na;
      throw new Error(`unknown NA policy ${String(never)}`);
    }
  }
  if (values.length < ctx.minLength) {
    return {
      seriesId: id,
      reason: "TOO_SHORT",
      message: `series ${JSON.stringify(id)} has ${values.length} value${values.length === 1 ? "" : "s"}, at least ${ctx.minLength} needed`,
      length: values.length,
    };
  }
  return { values, firstPeriod: period(first) };
}

/** Fills NaN runs linearly between their neighbours (both ends are values by construction); returns how many. */
function interpolate(values: Float64Array): number {
  let filled = 0;
  let k = 0;
  while (k < values.length) {
    if (!Number.isNaN(values[k] as number)) {
      k++;
      continue;
    }
    const start = k - 1;
    let end = k;
    while (Number.isNaN(values[end] as number)) end++;
    const a = values[start] as number;
    const b = values[end] as number;
    for (let j = start + 1; j < end; j++) values[j] = a + ((b - a) * (j - start)) / (end - start);
    filled += end - start - 1;
    k = end;
  }
  return filled;
}
