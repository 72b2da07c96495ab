import {
  type FeedbackRow,
  type IngestProblem,
  MAX_FEATURES,
  MAX_ID_LENGTH,
  MAX_OUTPUTS,
  type PredictionRow,
  type RejectionReason,
} from "./ingest.types.js";

/**
 * The checks a batch passes before the store is asked anything: types, finiteness, the shape of each row.
 * Pure; each row yields its value or its problems, so a batch reports every problem at once.
 */

const NON_FINITE_TEXT = new Set(["NaN", "nan", "Infinity", "+Infinity", "-Infinity", "inf", "-inf"]);
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** ISO 8601 with a time and an explicit zone: `2026-12-01T10:00:00Z`, `…+01:00`. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

type Check<T> = { value: T } | { problems: IngestProblem[] };

class RowProblems {
  readonly list: IngestProblem[] = [];
  constructor(private readonly index: number) {}
  add(field: string, reason: RejectionReason, message: string): void {
    this.list.push({ index: this.index, field, reason, message });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(row: Record<string, unknown>, field: string, problems: RowProblems, required: boolean) {
  const value = row[field];
  if (value === undefined || value === null) {
    if (required) problems.add(field, "invalid_type", `${field} is required`);
    return null;
  }
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ID_LENGTH) {
    problems.add(field, "invalid_type", `${field} must be a string of 1 to ${MAX_ID_LENGTH} characters`);
    return null;
  }
  if (value.includes("\n") || value.includes("\u0000")) {
    problems.add(field, "invalid_type", `${field} must not contain a newline or U+0000`);
    return null;
  }
  return value;
}

/** A number array; "NaN"/"Infinity" strings (how Skala's JSON carries them) and non-finite numbers are `not_finite`. */
function numbers(
  value: unknown,
  field: string,
  problems: RowProblems,
  bounds: { min: number; max: number; float32?: boolean },
): number[] | null {
  const list = typeof value === "number" || typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length < bounds.min || list.length > bounds.max) {
    problems.add(
      field,
      "invalid_type",
      `${field} must be an array of ${bounds.min} to ${bounds.max} numbers`,
    );
    return null;
  }
  const out: number[] = [];
  let ok = true;
  for (let i = 0; i < list.length; i++) {
    const v: unknown = list[i];
    if (typeof v === "number" && Number.isFinite(v)) {
      if (bounds.float32 && Math.abs(v) > 3.4028234663852886e38) {
        problems.add(`${field}/${i}`, "not_finite", `${field}[${i}] is beyond the float32 range`);
        ok = false;
      }
      out.push(v);
    } else if (typeof v === "number" || (typeof v === "string" && NON_FINITE_TEXT.has(v))) {
      problems.add(`${field}/${i}`, "not_finite", `${field}[${i}] is ${String(v)}, not a finite number`);
      ok = false;
    } else {
      problems.add(`${field}/${i}`, "invalid_type", `${field}[${i}] must be a number, not ${describe(v)}`);
      ok = false;
    }
  }
  return ok ? out : null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? `the string ${JSON.stringify(value.slice(0, 40))}` : typeof value;
}

function instant(row: Record<string, unknown>, field: string, problems: RowProblems): number | null {
  const value = row[field];
  if (typeof value !== "string" || !ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
    problems.add(
      field,
      "invalid_type",
      `${field} must be an ISO 8601 time with a zone (2026-12-01T10:00:00Z)`,
    );
    return null;
  }
  return Date.parse(value);
}

function unknownFields(row: Record<string, unknown>, allowed: ReadonlySet<string>, problems: RowProblems) {
  for (const key of Object.keys(row)) {
    if (!allowed.has(key))
      problems.add(key, "invalid_type", `unknown field ${JSON.stringify(key.slice(0, 60))}`);
  }
}

function modelName(row: Record<string, unknown>, problems: RowProblems): string | null {
  const model = row.model;
  if (typeof model !== "string" || !MODEL_NAME.test(model)) {
    problems.add("model", "invalid_type", "model must be a model name");
    return null;
  }
  return model;
}

/** Both or neither: a forecast names its series and period. */
function forecastKey(row: Record<string, unknown>, problems: RowProblems, required: boolean) {
  const before = problems.list.length;
  const segment = text(row, "segment", problems, false);
  const period = text(row, "period", problems, false);
  if (problems.list.length > before) return null;
  if ((segment === null) !== (period === null)) {
    problems.add(segment === null ? "segment" : "period", "invalid_type", "segment and period go together");
    return null;
  }
  if (required && segment === null) return null;
  return { segment, period };
}

const PREDICTION_FIELDS = new Set([
  "predictionId",
  "model",
  "version",
  "at",
  "segment",
  "period",
  "features",
  "outputs",
]);

/** A prediction row from its JSON form (`{predictionId, model, version, at, segment?, period?, features, outputs}`). */
export function parsePrediction(raw: unknown, index: number): Check<PredictionRow> {
  const problems = new RowProblems(index);
  if (!isRecord(raw)) {
    problems.add("", "invalid_type", "a prediction must be an object");
    return { problems: problems.list };
  }
  unknownFields(raw, PREDICTION_FIELDS, problems);
  const predictionId = text(raw, "predictionId", problems, true);
  const model = modelName(raw, problems);
  const version = raw.version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1 || version > 2 ** 31 - 1) {
    problems.add("version", "invalid_type", "version must be a positive integer");
  }
  const atMs = instant(raw, "at", problems);
  const key = forecastKey(raw, problems, false);
  const features = numbers(raw.features, "features", problems, { min: 1, max: MAX_FEATURES, float32: true });
  const outputs = numbers(raw.outputs, "outputs", problems, { min: 1, max: MAX_OUTPUTS });
  if (problems.list.length > 0) return { problems: problems.list };
  return {
    value: {
      predictionId: predictionId as string,
      model: model as string,
      version: version as number,
      atMs: atMs as number,
      segment: key?.segment ?? null,
      period: key?.period ?? null,
      features: features as number[],
      outputs: outputs as number[],
    },
  };
}

const FEEDBACK_FIELDS = new Set(["model", "predictionId", "segment", "period", "actual", "at", "revision"]);

/**
 * A feedback row from its JSON form: `{model, predictionId, actual, at?, revision?}` or, for a forecast,
 * `{model, segment, period, actual, at?, revision?}`. `actual` is a number or an array (one per output).
 */
export function parseFeedback(raw: unknown, index: number, nowMs: number): Check<FeedbackRow> {
  const problems = new RowProblems(index);
  if (!isRecord(raw)) {
    problems.add("", "invalid_type", "a feedback row must be an object");
    return { problems: problems.list };
  }
  unknownFields(raw, FEEDBACK_FIELDS, problems);
  const model = modelName(raw, problems);
  const predictionId = text(raw, "predictionId", problems, false);
  const key = forecastKey(raw, problems, false);
  if (predictionId !== null && key !== null && key.segment !== null) {
    problems.add("predictionId", "invalid_type", "name either predictionId or segment and period, not both");
  } else if (
    predictionId === null &&
    raw.predictionId === undefined &&
    key !== null &&
    key.segment === null
  ) {
    problems.add(
      "predictionId",
      "invalid_type",
      "predictionId (or segment and period, for a forecast) is required",
    );
  }
  const actual = numbers(raw.actual, "actual", problems, { min: 1, max: MAX_OUTPUTS });
  const atMs = raw.at === undefined ? nowMs : instant(raw, "at", problems);
  const revision = raw.revision ?? 0;
  if (typeof revision !== "number" || !Number.isInteger(revision) || revision < 0 || revision > 2 ** 31 - 1) {
    problems.add("revision", "invalid_type", "revision must be an integer ≥ 0");
  }
  if (problems.list.length > 0) return { problems: problems.list };
  return {
    value: {
      model: model as string,
      predictionId,
      segment: key?.segment ?? null,
      period: key?.period ?? null,
      revision: revision as number,
      actual: actual as number[],
      atMs: atMs as number,
    },
  };
}
