import { ProtocolError, type Tensor, type TensorMetadata } from "../protocol/index.js";

/**
 * The one interface every model runtime implements. The model cache loads artifacts through it and the
 * protocol routes infer through it, so neither knows which engine answers. Errors are ProtocolErrors:
 * INFER_REQUEST_INVALID for a client mistake (unknown input, wrong datatype or shape), MODEL_NOT_READY or
 * OVERLOADED for "not now" (unloaded, worker recycling, queue full), MODEL_FAILED for a model that fails.
 */

export type RuntimeName = "onnx" | "skala.forecast";

export const RUNTIME_NAMES: readonly RuntimeName[] = ["onnx", "skala.forecast"];

export function isRuntimeName(name: string): name is RuntimeName {
  return (RUNTIME_NAMES as readonly string[]).includes(name);
}

/** Why a version naming another runtime can never load here. */
export function runtimeUnavailable(name: string): string {
  return `runtime ${JSON.stringify(name.slice(0, 64))} is not available on this server (it has ${RUNTIME_NAMES.join(", ")})`;
}

/** A tensor as the model declares it; -1 marks a variable dimension (the protocol's convention). */
export type TensorMeta = TensorMetadata;

export interface LoadedModelMetadata {
  inputs: TensorMeta[];
  outputs: TensorMeta[];
  /** The protocol's `platform`, e.g. "onnxruntime_onnx" (Triton's name) or "skala.forecast". */
  platform: string;
}

export interface LoadOptions {
  /**
   * A stable identity of the model version (e.g. "project/model:3" or the artifact digest). The ONNX runtime
   * hashes it to pick the worker thread that owns the session, so one model always lives in one worker.
   */
  key: string;
  signal?: AbortSignal;
  /**
   * False keeps this model's requests out of dynamic batches: for a model whose outputs for one row depend on
   * other rows of the same request (a batch-wide normalisation). Default true where the runtime batches.
   */
  batching?: boolean;
}

export interface InferOptions {
  /** Output names to compute, in this order; all outputs when left out. An unknown name is a 400. */
  outputs?: readonly string[];
  /**
   * Rejects the call once aborted. Work already handed to a native session cannot be interrupted; its result
   * is dropped.
   */
  signal?: AbortSignal;
}

export interface LoadedModel {
  metadata(): LoadedModelMetadata;
  /** Inputs are validated against metadata() first, so a client mistake never reaches the engine. */
  infer(inputs: readonly Tensor[], options?: InferOptions): Promise<Tensor[]>;
  /** Estimated resident bytes, for the cache's memory budget. */
  readonly sizeBytes: number;
  /** Frees the model; later infer calls reject with 503. Idempotent. */
  unload(): Promise<void>;
}

/**
 * The artifact itself is broken (not the runtime, not the moment): loading it again cannot succeed. The
 * model cache stops retrying it, and registration refuses it.
 */
export class InvalidArtifactError extends ProtocolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MODEL_FAILED", message, options);
    this.name = "InvalidArtifactError";
  }
}

export interface ModelRuntime {
  readonly name: RuntimeName;
  /**
   * Parses and prepares an artifact. A broken artifact rejects with an InvalidArtifactError (MODEL_FAILED) naming
   * the reason; other failures (a worker gone, the runtime closed) are MODEL_NOT_READY or SERVICE_UNAVAILABLE.
   */
  load(artifact: Uint8Array, options: LoadOptions): Promise<LoadedModel>;
  /**
   * Whether `load` would accept the artifact, keeping nothing loaded: undefined when it would, else the
   * reason. Registration calls it, so it must be cheap on the main thread (ONNX sessions are created and
   * released on a worker thread). Rejects only when the check could not run (503).
   */
  validateArtifact(read: () => Promise<Uint8Array>): Promise<string | undefined>;
  /** Releases what the runtime holds (worker threads); loaded models become unusable. */
  close(): Promise<void>;
}
