import type { ProtocolErrorCode, Tensor, TensorMetadata } from "../protocol/index.js";

/**
 * The messages between the ONNX worker pool (main thread) and an ONNX worker thread. Tensors travel in the
 * protocol's own representation (typed arrays are structured-cloned or transferred), so the conversions to
 * and from onnxruntime's tensors, FP16 bits included, run in the worker and not on the event loop.
 */

/** Session options every session gets: thousands of small models must not each start a thread pool. */
export const ONNX_SESSION_OPTIONS = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
} as const;

export type WorkerRequest =
  | { kind: "load"; id: number; session: string; bytes: Uint8Array }
  | { kind: "run"; id: number; session: string; feeds: Tensor[]; fetches: string[] | undefined }
  | { kind: "unload"; id: number; session: string }
  /** Creates a session and releases it at once: whether the bytes would load (registration's check). */
  | { kind: "validate"; id: number; bytes: Uint8Array }
  | { kind: "shutdown"; id: number }
  /** Answered once the thread has loaded onnxruntime and reads messages: a replacement is ready. */
  | { kind: "ping"; id: number };

export interface SessionMetadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export type WorkerResponse =
  | { kind: "load"; id: number; ok: true; metadata: SessionMetadata }
  | { kind: "run"; id: number; ok: true; outputs: Tensor[] }
  | { kind: "unload"; id: number; ok: true }
  | { kind: "validate"; id: number; ok: true; metadata: SessionMetadata }
  | { kind: "shutdown"; id: number; ok: true }
  | { kind: "ping"; id: number; ok: true }
  /** `invalidArtifact`: the model's bytes are at fault (an InvalidArtifactError), so loading again cannot help. */
  | {
      kind: "error";
      id: number;
      ok: false;
      code: ProtocolErrorCode;
      message: string;
      invalidArtifact?: true;
    };

/** The buffers a message can hand over instead of copying: whole, unshared ArrayBuffers only. */
export function transferables(tensors: readonly Tensor[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const tensor of tensors) {
    const data = tensor.data;
    if (Array.isArray(data)) continue;
    const { buffer } = data;
    if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) {
      out.add(buffer);
    }
  }
  return [...out];
}
