import {
  type Datatype,
  encodeTensor,
  type PredictionRecord,
  type Tensor,
  type TensorJson,
} from "../serving/index.js";
import type { PredictionLogTable } from "../store/index.js";

/**
 * What the inference path hands the prediction logger, and how a record becomes a `prediction_log` row. The
 * cheap part (sizing, see `preparePrediction`) runs in `record()`; the JSON encoding (`serialisePrediction`)
 * runs at flush time, off the response path.
 */

/** A `prediction_log` row as the sink writes it (`seq` is the database's). */
export type PredictionLogRow = Omit<PredictionLogTable, "seq">;

/** Stands in for the tensors of a side (inputs or outputs) whose JSON was over the size cap. */
export interface TruncatedTensors {
  truncated: true;
  /** The UTF-8 size of the JSON it replaces; a lower bound when `atLeast` is set (never encoded, far too big). */
  bytes: number;
  atLeast?: true;
  tensors: Array<{ name: string; datatype: Datatype; shape: number[] }>;
  /** Set when the tensors could not be encoded at all (e.g. data not matching the shape). */
  reason?: string;
}

/** A side of a logged prediction as stored: the protocol's tensor JSON, or the truncation marker. */
export type LoggedTensors = TensorJson[] | TruncatedTensors;

/** Longest error message kept, in UTF-16 code units. */
export const MAX_ERROR_CHARS = 4096;

type Side = { tensors: readonly Tensor[] } | { marker: TruncatedTensors };

/** A sampled record waiting in the buffer: the tensors are still references, nothing is encoded yet. */
export interface PendingPrediction {
  project: string;
  model: string;
  version: number;
  versionId: string;
  route: string;
  requestId: string | null;
  inputs: Side;
  outputs: Side | null;
  error: string | null;
  latencyMs: number;
  at: Date;
  /** Rough heap held by this record while buffered (the tensors it keeps alive). */
  retainedBytes: number;
}

/** `{"name":"","datatype":"","shape":[],"data":[]},` without the variable parts. */
const TENSOR_JSON_OVERHEAD = 46;
const RECORD_OVERHEAD_BYTES = 256;

function summary(tensors: readonly Tensor[]): TruncatedTensors["tensors"] {
  return tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.slice() }));
}

export function truncatedMarker(
  tensors: readonly Tensor[],
  bytes: number,
  extra: { atLeast?: true; reason?: string } = {},
): TruncatedTensors {
  return { truncated: true, bytes, ...extra, tensors: summary(tensors) };
}

/**
 * A lower bound of the side's JSON size, and the heap its tensors hold, computed without encoding: every
 * numeric element takes at least 2 bytes ("0,"), every BYTES element its length plus 3 (quotes and comma;
 * UTF-8 never has fewer bytes than UTF-16 code units). Stops counting once past `cap`, so the work is bounded
 * by the cap whatever the tensor's size.
 */
function sizeSide(tensors: readonly Tensor[], cap: number): { jsonAtLeast: number; heap: number } {
  let jsonAtLeast = 2;
  let heap = 0;
  for (const tensor of tensors) {
    jsonAtLeast += TENSOR_JSON_OVERHEAD + tensor.name.length + tensor.shape.length * 2;
    if (tensor.datatype === "BYTES") {
      const data = tensor.data;
      jsonAtLeast += data.length * 3;
      heap += data.length * 16;
      if (jsonAtLeast > cap) return { jsonAtLeast, heap };
      for (const element of data) {
        jsonAtLeast += element.length;
        heap += element.length * 2;
        if (jsonAtLeast > cap) return { jsonAtLeast, heap };
      }
    } else {
      jsonAtLeast += tensor.data.length * 2;
      heap += tensor.data.byteLength;
    }
    if (jsonAtLeast > cap) return { jsonAtLeast, heap };
  }
  return { jsonAtLeast, heap };
}

function prepareSide(tensors: readonly Tensor[], cap: number): { side: Side; heap: number } {
  const { jsonAtLeast, heap } = sizeSide(tensors, cap);
  if (jsonAtLeast > cap) {
    // Certain to be truncated: keep only the shapes, so the buffer never holds the large tensors.
    return { side: { marker: truncatedMarker(tensors, jsonAtLeast, { atLeast: true }) }, heap: 0 };
  }
  return { side: { tensors: tensors.slice() }, heap };
}

/** PostgreSQL text cannot hold U+0000; one such character would fail every retry of the whole batch. */
function storableText(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}

/**
 * The hot-path part of recording: copies the record's fields, sizes its tensors (bounded by `cap`) and drops
 * the references to any side certain to exceed the cap. No encoding happens here.
 */
export function preparePrediction(record: PredictionRecord, cap: number): PendingPrediction {
  const inputs = prepareSide(record.inputs, cap);
  const outputs = record.outputs === undefined ? null : prepareSide(record.outputs, cap);
  const error =
    record.error === undefined
      ? null
      : storableText(
          record.error.length > MAX_ERROR_CHARS ? `${record.error.slice(0, MAX_ERROR_CHARS)}…` : record.error,
        );
  return {
    project: record.project,
    model: record.model,
    version: record.version,
    versionId: record.versionId,
    route: record.route,
    requestId: record.requestId === undefined ? null : storableText(record.requestId),
    inputs: inputs.side,
    outputs: outputs?.side ?? null,
    error,
    latencyMs: Number.isFinite(record.latencyMs) ? record.latencyMs : 0,
    at: record.at,
    retainedBytes: RECORD_OVERHEAD_BYTES + inputs.heap + (outputs?.heap ?? 0) + (error?.length ?? 0) * 2,
  };
}

interface EncodedSide {
  json: string;
  bytes: number;
  /** The tensors, while the side can still be replaced by a marker. */
  tensors?: readonly Tensor[];
}

function encodeSide(side: Side): EncodedSide {
  if ("marker" in side) {
    const json = JSON.stringify(side.marker);
    return { json, bytes: Buffer.byteLength(json) };
  }
  let json: string;
  try {
    json = JSON.stringify(side.tensors.map(encodeTensor));
  } catch (error) {
    // A tensor whose data does not match its shape (e.g. a buffer transferred away and detached).
    const reason = error instanceof Error ? error.message : String(error);
    const marker = JSON.stringify(truncatedMarker(side.tensors, 0, { reason }));
    return { json: marker, bytes: Buffer.byteLength(marker) };
  }
  return { json, bytes: Buffer.byteLength(json), tensors: side.tensors };
}

function shrink(side: EncodedSide): EncodedSide {
  if (side.tensors === undefined) return side;
  const json = JSON.stringify(truncatedMarker(side.tensors, side.bytes));
  return { json, bytes: Buffer.byteLength(json) };
}

/**
 * Encodes a buffered record into its row. Inputs and outputs share one budget of `cap` UTF-8 bytes: past it,
 * the larger side is replaced by a truncation marker, then the other if still needed, so a small output (the
 * score monitoring wants) survives a large input. `truncated` says whether anything was replaced.
 */
export function serialisePrediction(
  pending: PendingPrediction,
  cap: number,
): { row: PredictionLogRow; truncated: boolean } {
  let inputs = encodeSide(pending.inputs);
  let outputs = pending.outputs === null ? null : encodeSide(pending.outputs);
  const total = () => inputs.bytes + (outputs?.bytes ?? 0);
  if (total() > cap) {
    if (outputs !== null && outputs.bytes > inputs.bytes && outputs.tensors !== undefined) {
      outputs = shrink(outputs);
    } else {
      inputs = shrink(inputs);
    }
    if (total() > cap) {
      inputs = shrink(inputs);
      if (outputs !== null) outputs = shrink(outputs);
    }
  }
  const truncated = isTruncated(inputs) || isTruncated(outputs);
  return {
    row: {
      project: pending.project,
      model: pending.model,
      version: pending.version,
      version_id: pending.versionId,
      route: pending.route,
      request_id: pending.requestId,
      inputs: inputs.json,
      outputs: outputs?.json ?? null,
      error: pending.error,
      latency_ms: pending.latencyMs,
      created_at: pending.at.toISOString(),
    },
    truncated,
  };
}

function isTruncated(side: EncodedSide | null): boolean {
  return side !== null && side.tensors === undefined;
}
