import { parentPort } from "node:worker_threads";
import { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import {
  type Datatype,
  datatypeFromOnnxType,
  encodeTensorMetadata,
  fromFloat16Bits,
  ONNX_TYPE_BY_DATATYPE,
  ProtocolError,
  type Tensor,
  type TensorMetadata,
  toFloat16Bits,
} from "../protocol/index.js";
import {
  ONNX_SESSION_OPTIONS,
  type SessionMetadata,
  transferables,
  type WorkerRequest,
  type WorkerResponse,
} from "./onnx-messages.js";
import { InvalidArtifactError } from "./runtime.js";

// Entry point of an ONNX worker thread: owns the sessions of the models hashed to it. Session creation and
// run() are synchronous native calls, which is why they live here and never on the main thread.

const port = parentPort;
if (port === null) throw new Error("onnx-worker.ts must run as a worker thread");

/**
 * Sessions by id. The promise is stored before it settles so a run posted right behind its load (the pool
 * does that when it reloads lazily after a recycle) waits for the session instead of missing it.
 */
const sessions = new Map<string, Promise<InferenceSession>>();

/**
 * Runs not yet answered, by session. onnxruntime-node defers run() to setImmediate, so a release issued
 * while one waits would free the native session under it: unload waits for these first.
 */
const running = new Map<string, Set<Promise<unknown>>>();

function track<T>(id: string, work: Promise<T>): Promise<T> {
  let set = running.get(id);
  if (set === undefined) {
    set = new Set();
    running.set(id, set);
  }
  const active = set;
  active.add(work);
  const done = (): void => {
    active.delete(work);
    if (active.size === 0 && running.get(id) === active) running.delete(id);
  };
  work.then(done, done);
  return work;
}

function describe(metadata: readonly InferenceSession.ValueMetadata[], where: string): TensorMetadata[] {
  const out: TensorMetadata[] = [];
  for (const value of metadata) {
    // Non-tensor values (ZipMap's sequence of maps) have no protocol datatype; inputs cannot be fed, outputs
    // are left out of metadata and never fetched.
    if (!value.isTensor) {
      if (where === "input") throw new InvalidArtifactError(`input "${value.name}" is not a tensor`);
      continue;
    }
    const datatype = datatypeFromOnnxType(value.type);
    if (datatype === undefined) {
      if (where === "input") {
        throw new InvalidArtifactError(
          `input "${value.name}" has type ${value.type}, which the protocol lacks`,
        );
      }
      continue;
    }
    out.push(encodeTensorMetadata({ name: value.name, datatype, shape: value.shape }));
  }
  return out;
}

function sessionMetadata(session: InferenceSession): SessionMetadata {
  // inputMetadata arrived in onnxruntime-node 1.17; the package pins ^1.30, so its absence is a broken install.
  if (!Array.isArray(session.inputMetadata) || !Array.isArray(session.outputMetadata)) {
    throw new ProtocolError(
      "MODEL_FAILED",
      "this onnxruntime-node has no inputMetadata/outputMetadata (need ≥ 1.17)",
    );
  }
  return {
    inputs: describe(session.inputMetadata, "input"),
    outputs: describe(session.outputMetadata, "output"),
  };
}

function toOrt(tensor: Tensor): OrtTensor {
  const type = ONNX_TYPE_BY_DATATYPE[tensor.datatype] as OrtTensor.Type;
  // onnxruntime wants FP16 as raw binary16 bits; the protocol holds the rounded values in a Float32Array.
  const data = tensor.datatype === "FP16" ? toFloat16Bits(tensor.data) : tensor.data;
  return new OrtTensor(type, data, tensor.shape);
}

/** Copies into the container the protocol uses for `datatype` unless the data already is one. */
function fromOrtData(datatype: Datatype, data: OrtTensor["data"]): Tensor["data"] {
  switch (datatype) {
    case "BOOL":
      return data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>);
    case "UINT8":
      return data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>);
    case "UINT16":
      return data instanceof Uint16Array ? data : Uint16Array.from(data as ArrayLike<number>);
    case "UINT32":
      return data instanceof Uint32Array ? data : Uint32Array.from(data as ArrayLike<number>);
    case "UINT64":
      return data instanceof BigUint64Array ? data : BigUint64Array.from(data as ArrayLike<bigint>);
    case "INT8":
      return data instanceof Int8Array ? data : Int8Array.from(data as ArrayLike<number>);
    case "INT16":
      return data instanceof Int16Array ? data : Int16Array.from(data as ArrayLike<number>);
    case "INT32":
      return data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
    case "INT64":
      return data instanceof BigInt64Array ? data : BigInt64Array.from(data as ArrayLike<bigint>);
    case "FP16":
      return fromFloat16Bits(data as ArrayLike<number>);
    case "FP32":
      return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    case "FP64":
      return data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>);
    case "BYTES":
      return Array.from(data as ArrayLike<string>, String);
    default: {
      const unhandled: never = datatype;
      throw new ProtocolError("MODEL_FAILED", `unhandled datatype ${String(unhandled)}`);
    }
  }
}

function fromOrt(name: string, tensor: OrtTensor): Tensor {
  const datatype = datatypeFromOnnxType(tensor.type);
  if (datatype === undefined) {
    throw new ProtocolError(
      "MODEL_FAILED",
      `output "${name}" has type ${tensor.type}, which the protocol lacks`,
    );
  }
  let data = fromOrtData(datatype, tensor.data);
  // Own the whole buffer so it can be transferred back instead of copied.
  if (!Array.isArray(data) && (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength)) {
    data = data.slice();
  }
  return { name, datatype, shape: [...tensor.dims], data } as Tensor;
}

/** Session creation; bytes onnxruntime refuses are the artifact's fault, never worth loading again. */
async function createSession(bytes: Uint8Array): Promise<InferenceSession> {
  try {
    return await InferenceSession.create(bytes, ONNX_SESSION_OPTIONS);
  } catch (error) {
    throw new InvalidArtifactError(`onnxruntime could not load the model: ${(error as Error).message}`);
  }
}

async function sessionOf(id: string): Promise<InferenceSession> {
  const session = sessions.get(id);
  if (session === undefined)
    throw new ProtocolError("MODEL_FAILED", `session ${id} is not loaded in this worker`);
  return session;
}

async function handle(request: WorkerRequest): Promise<WorkerResponse> {
  switch (request.kind) {
    case "load": {
      const created = createSession(request.bytes);
      sessions.set(request.session, created);
      let session: InferenceSession;
      try {
        session = await created;
      } catch (error) {
        sessions.delete(request.session);
        throw error;
      }
      try {
        return { kind: "load", id: request.id, ok: true, metadata: sessionMetadata(session) };
      } catch (error) {
        sessions.delete(request.session);
        await session.release();
        throw error;
      }
    }
    case "run": {
      const session = await sessionOf(request.session);
      const feeds: Record<string, OrtTensor> = {};
      for (const tensor of request.feeds) feeds[tensor.name] = toOrt(tensor);
      let results: InferenceSession.ReturnType;
      try {
        const work = request.fetches === undefined ? session.run(feeds) : session.run(feeds, request.fetches);
        results = await track(request.session, work);
      } catch (error) {
        throw new ProtocolError("MODEL_FAILED", `onnxruntime failed: ${(error as Error).message}`);
      }
      const names = request.fetches ?? Object.keys(results);
      const outputs: Tensor[] = [];
      for (const name of names) {
        const value = results[name];
        if (value === undefined)
          throw new ProtocolError("MODEL_FAILED", `onnxruntime returned no output "${name}"`);
        outputs.push(fromOrt(name, value as OrtTensor));
      }
      return { kind: "run", id: request.id, ok: true, outputs };
    }
    case "validate": {
      const session = await createSession(request.bytes);
      try {
        return { kind: "validate", id: request.id, ok: true, metadata: sessionMetadata(session) };
      } finally {
        await session.release();
      }
    }
    case "unload": {
      const session = sessions.get(request.session);
      sessions.delete(request.session);
      await Promise.allSettled(running.get(request.session) ?? []);
      if (session !== undefined) {
        // A session whose load failed has nothing to release.
        await session.then((s) => s.release()).catch(() => undefined);
      }
      return { kind: "unload", id: request.id, ok: true };
    }
    case "ping":
      return { kind: "ping", id: request.id, ok: true };
    case "shutdown": {
      // Native sessions are released here, on their own thread, before the pool terminates it: tearing a
      // thread down with live onnxruntime sessions can crash the whole process.
      const all = [...sessions.entries()];
      sessions.clear();
      for (const [key, session] of all) {
        await Promise.allSettled(running.get(key) ?? []);
        await session.then((s) => s.release()).catch(() => undefined);
      }
      return { kind: "shutdown", id: request.id, ok: true };
    }
    default: {
      const unhandled: never = request;
      throw new ProtocolError("MODEL_FAILED", `unknown request ${JSON.stringify(unhandled)}`);
    }
  }
}

function reply(response: WorkerResponse): void {
  if (response.kind !== "run") {
    port?.postMessage(response);
    return;
  }
  try {
    port?.postMessage(response, transferables(response.outputs));
  } catch {
    // A buffer onnxruntime keeps native ownership of cannot be transferred; a copy always can.
    port?.postMessage(response);
  }
}

port.on("message", (request: WorkerRequest) => {
  handle(request).then(reply, (error: unknown) => {
    const code = error instanceof ProtocolError ? error.code : "MODEL_FAILED";
    const message = error instanceof Error ? error.message : String(error);
    reply({
      kind: "error",
      id: request.id,
      ok: false,
      code,
      message,
      ...(error instanceof InvalidArtifactError && { invalidArtifact: true }),
    });
  });
});
