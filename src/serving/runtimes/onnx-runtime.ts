import { checkInputsAgainstModel, ProtocolError, type Tensor } from "../protocol/index.js";
import {
  BatchCounters,
  type BatchSettings,
  type BatchTarget,
  OnnxBatcher,
  type OnnxBatchingOptions,
  type OnnxBatchStats,
  resolveBatching,
} from "./onnx-batcher.js";
import {
  type OnnxSessionHandle,
  OnnxWorkerPool,
  type OnnxWorkerPoolOptions,
  type OnnxWorkerStats,
} from "./onnx-worker-pool.js";
import {
  type InferOptions,
  InvalidArtifactError,
  type LoadedModel,
  type LoadedModelMetadata,
  type LoadOptions,
  type ModelRuntime,
} from "./runtime.js";
import { checkAbort, checkOutputNames, checkUniqueInputs } from "./runtime-support.js";

/** Triton's platform name for ONNX models, so Triton clients recognise it. */
export const ONNX_PLATFORM = "onnxruntime_onnx";

export interface OnnxRuntimeOptions extends OnnxWorkerPoolOptions {
  /** Artifact size × this factor is the memory estimate until a measured figure exists (BRIEF §10). */
  sizeFactor?: number;
  /**
   * Hand input buffers to the worker instead of copying them. Only for callers that never reuse a request's
   * tensors after infer: shadow routing sends the same tensors to a second model, so the default copies.
   */
  transferInputs?: boolean;
  /**
   * Dynamic batching (see onnx-batcher.ts and README.md): compatible requests of one model that wait while it
   * is busy are merged into one run. Off by default and when maxBatchSize ≤ 1. It assumes a model's rows are
   * independent (row i of each output depends only on row i of the inputs), as any batch-first model is.
   */
  batching?: OnnxBatchingOptions;
}

export type ArtifactInspection =
  | { ok: true; metadata: Pick<LoadedModelMetadata, "inputs" | "outputs"> }
  | { ok: false; reason: string };

/** The ONNX runtime with the pool controls the model cache needs (recycling, queue depth). */
export interface OnnxRuntime extends ModelRuntime {
  readonly name: "onnx";
  readonly pool: OnnxWorkerPool;
  /** Replaces one worker thread (or all) to return leaked native memory; models reload lazily. */
  recycle(slot?: number): Promise<void>;
  stats(): OnnxWorkerStats[];
  /**
   * Whether the bytes would load, as `validateArtifact`, and if so the model's inputs and outputs (names,
   * datatypes, shapes with -1 for variable dimensions), which registration compares with a declared signature.
   */
  inspectArtifact(read: () => Promise<Uint8Array>): Promise<ArtifactInspection>;
  /** Requests refused since start because their model's worker queue was full (`maxQueue`, a 503 each). */
  queueRefusals(): number;
  /** Dynamic batching counters over every model (all zero while batching is off). */
  batchStats(): OnnxBatchStats;
}

class LoadedOnnx implements LoadedModel {
  private handle: OnnxSessionHandle | undefined;
  private readonly meta: LoadedModelMetadata;
  private readonly outputNames: string[];

  constructor(
    private readonly pool: OnnxWorkerPool,
    handle: OnnxSessionHandle,
    readonly sizeBytes: number,
    private readonly transfer: boolean,
    /** Undefined when batching is off or the model cannot be batched (a fixed first dimension). */
    private readonly batcher: OnnxBatcher | undefined,
    private readonly onUnload: () => void,
  ) {
    this.handle = handle;
    this.meta = { platform: ONNX_PLATFORM, inputs: handle.metadata.inputs, outputs: handle.metadata.outputs };
    this.outputNames = handle.metadata.outputs.map((o) => o.name);
  }

  metadata(): LoadedModelMetadata {
    return structuredClone(this.meta);
  }

  async infer(inputs: readonly Tensor[], options: InferOptions = {}): Promise<Tensor[]> {
    checkAbort(options.signal);
    const handle = this.handle;
    if (handle === undefined) throw new ProtocolError("MODEL_NOT_READY", "model is not loaded");
    checkUniqueInputs(inputs);
    checkInputsAgainstModel(inputs, this.meta.inputs);
    checkOutputNames(options.outputs, this.outputNames);
    // Fetch only what the client asked for (the session then skips the rest); by default every tensor
    // output the metadata lists, which leaves out non-tensor outputs the protocol cannot carry.
    const fetches = options.outputs ?? this.outputNames;
    if (this.batcher !== undefined) return this.batcher.infer(inputs, fetches, options.signal);
    const runOptions: { signal?: AbortSignal; transfer: boolean } = { transfer: this.transfer };
    if (options.signal !== undefined) runOptions.signal = options.signal;
    return this.pool.run(handle, inputs, fetches, runOptions);
  }

  async unload(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle === undefined) return;
    this.onUnload();
    // Requests already accepted run before the session goes, as unbatched ones already posted to the worker
    // do: their runs are posted ahead of the unload, and the worker answers in order.
    this.batcher?.flushAll();
    await this.pool.unload(handle);
  }
}

export function createOnnxRuntime(options: OnnxRuntimeOptions = {}): OnnxRuntime {
  const pool = new OnnxWorkerPool(options);
  const sizeFactor = options.sizeFactor ?? 1.25;
  const transfer = options.transferInputs ?? false;
  const batching = resolveBatching(options.batching, transfer);
  const counters = new BatchCounters();
  const batchers = new Set<OnnxBatcher>();
  const inspectArtifact = async (read: () => Promise<Uint8Array>): Promise<ArtifactInspection> => {
    const artifact = await read();
    if (artifact.byteLength === 0) return { ok: false, reason: "ONNX artifact is empty" };
    try {
      return { ok: true, metadata: await pool.validate(artifact) };
    } catch (error) {
      if (error instanceof InvalidArtifactError) return { ok: false, reason: error.message };
      throw error;
    }
  };
  return {
    name: "onnx",
    pool,
    async load(artifact: Uint8Array, loadOptions: LoadOptions): Promise<LoadedModel> {
      checkAbort(loadOptions.signal);
      if (artifact.byteLength === 0) throw new InvalidArtifactError("ONNX artifact is empty");
      const handle = await pool.load(loadOptions.key, artifact);
      if (loadOptions.signal?.aborted) {
        await pool.unload(handle);
        loadOptions.signal.throwIfAborted();
      }
      const batcher =
        batching && loadOptions.batching !== false
          ? createBatcher(pool, handle, batching, counters)
          : undefined;
      if (batcher !== undefined) batchers.add(batcher);
      const sizeBytes = Math.ceil(artifact.byteLength * sizeFactor);
      return new LoadedOnnx(pool, handle, sizeBytes, transfer, batcher, () => {
        if (batcher !== undefined) batchers.delete(batcher);
      });
    },
    inspectArtifact,
    async validateArtifact(read: () => Promise<Uint8Array>): Promise<string | undefined> {
      const inspection = await inspectArtifact(read);
      return inspection.ok ? undefined : inspection.reason;
    },
    recycle: (slot?: number) => pool.recycle(slot),
    stats: () => pool.stats(),
    queueRefusals: () => pool.refusedRequests,
    batchStats: () => counters.snapshot(),
    async close(): Promise<void> {
      const closed = new ProtocolError("SERVICE_UNAVAILABLE", "the ONNX runtime is closed");
      for (const batcher of batchers) batcher.close(closed);
      batchers.clear();
      await pool.close();
    },
  };
}

function createBatcher(
  pool: OnnxWorkerPool,
  handle: OnnxSessionHandle,
  settings: BatchSettings,
  counters: BatchCounters,
): OnnxBatcher | undefined {
  const target: BatchTarget = {
    label: handle.key,
    admit: () => pool.admit(handle),
    release: (count) => pool.release(handle, count),
    run: (feeds, fetches, options) => pool.run(handle, feeds, fetches, options),
  };
  return OnnxBatcher.create(handle.metadata, target, settings, counters);
}
