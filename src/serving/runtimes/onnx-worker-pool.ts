import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ProtocolError, type Tensor } from "../protocol/index.js";
import {
  type SessionMetadata,
  transferables,
  type WorkerRequest,
  type WorkerResponse,
} from "./onnx-messages.js";
import { InvalidArtifactError } from "./runtime.js";
import { hashKey } from "./runtime-support.js";

export interface OnnxWorkerPoolOptions {
  /** Worker threads; a model's session lives in exactly one of them. Default: cores − 1, at least 1. */
  workers?: number;
  /**
   * Most requests in flight per worker (queued or running, plus those a dynamic batcher holds for it); one more
   * is refused with 503. A batched run counts as the requests it answers. Default 64.
   */
  maxQueue?: number;
  /** How long a recycled worker may finish its in-flight work before it is terminated. Default 30 s. */
  drainTimeoutMs?: number;
}

/** A session registered with the pool: the bytes stay here so a recycled worker can reload it. */
export interface OnnxSessionHandle {
  readonly id: string;
  readonly key: string;
  readonly slot: number;
  readonly metadata: SessionMetadata;
}

export interface OnnxWorkerStats {
  slot: number;
  /** Whether a thread is running (slots start theirs on first use, and again after a recycle). */
  running: boolean;
  /** Requests queued or executing in the current thread (a batched run counts as its requests). */
  inFlight: number;
  /** Requests dynamic batchers hold for this slot, not yet sent; they count against `maxQueue` too. */
  waiting: number;
  /** Sessions registered to the slot, and how many of them the current thread has loaded. */
  sessions: number;
  loaded: number;
  /** Threads started so far in this slot; grows by one per recycle or crash. */
  generation: number;
}

interface Pending {
  kind: WorkerRequest["kind"];
  /** Requests a run answers (a batch answers several); what it adds to `runs`. */
  weight: number;
  resolve: (response: WorkerResponse) => void;
  reject: (error: Error) => void;
}

interface SessionEntry {
  id: string;
  key: string;
  slot: number;
  bytes: Uint8Array;
  metadata: SessionMetadata | undefined;
}

/** How long a thread may take to release its sessions before it is terminated regardless. */
const SHUTDOWN_TIMEOUT_MS = 5_000;

/** One worker thread and what it holds. A recycled thread keeps answering its in-flight work, then exits. */
class WorkerThread {
  readonly pending = new Map<number, Pending>();
  readonly loaded = new Set<string>();
  runs = 0;
  private shutdowns = 0;
  private terminating: Promise<void> | undefined;
  private exited = false;
  private draining: (() => void) | undefined;

  constructor(
    readonly worker: Worker,
    private readonly onDeath: (thread: WorkerThread) => void,
  ) {
    worker.unref();
    worker.on("message", (response: WorkerResponse) => this.settle(response));
    worker.on("error", (error) => this.die(error));
    worker.on("exit", (code) => this.die(new Error(`ONNX worker thread exited with code ${code}`)));
  }

  get alive(): boolean {
    return !this.exited;
  }

  send(request: WorkerRequest, transfer: ArrayBuffer[] = [], weight = 1): Promise<WorkerResponse> {
    if (this.exited)
      return Promise.reject(new ProtocolError("MODEL_NOT_READY", "ONNX worker thread is gone; retry"));
    return new Promise((resolve, reject) => {
      const counted = request.kind === "run" ? weight : 0;
      this.pending.set(request.id, { kind: request.kind, weight: counted, resolve, reject });
      this.runs += counted;
      // Referenced only while work is outstanding, so an idle pool never keeps the process alive.
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage(request, transfer);
    });
  }

  /** Terminates once the in-flight work is answered, or after `timeoutMs` at the latest. */
  drain(timeoutMs: number): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => void this.terminate(), timeoutMs);
      timer.unref();
      this.draining = () => {
        clearTimeout(timer);
        void this.terminate();
      };
      this.worker.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      if (this.pending.size === 0) this.draining();
    });
  }

  /** Asks the thread to release its sessions (bounded wait), then ends it. */
  terminate(): Promise<void> {
    if (this.exited) return Promise.resolve();
    this.terminating ??= this.shutDown();
    return this.terminating;
  }

  private async shutDown(): Promise<void> {
    const released = new Promise<void>((resolve) => {
      const id = -1 - this.shutdowns++;
      this.pending.set(id, {
        kind: "shutdown",
        weight: 0,
        resolve: () => resolve(),
        reject: () => resolve(),
      });
      this.worker.ref();
      this.worker.postMessage({ kind: "shutdown", id } satisfies WorkerRequest);
    });
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_TIMEOUT_MS).unref());
    await Promise.race([released, timeout]);
    if (!this.exited) await this.worker.terminate();
  }

  private settle(response: WorkerResponse): void {
    const pending = this.pending.get(response.id);
    if (pending === undefined) return;
    this.pending.delete(response.id);
    this.runs -= pending.weight;
    if (this.pending.size === 0) {
      this.worker.unref();
      this.draining?.();
    }
    pending.resolve(response);
  }

  private die(error: Error): void {
    if (this.exited) return;
    this.exited = true;
    const failure = new ProtocolError(
      "MODEL_NOT_READY",
      `ONNX worker thread stopped: ${error.message}; retry`,
      {
        cause: error,
      },
    );
    for (const pending of this.pending.values()) pending.reject(failure);
    this.pending.clear();
    this.runs = 0;
    this.onDeath(this);
  }
}

/**
 * onnxruntime-node sessions on a fixed set of worker threads. A model key hashes to one slot, so each session
 * lives in exactly one thread and its native state is never shared. Threads start on first use; `recycle`
 * replaces a thread (to return the native memory that session churn leaks) and the slot's sessions reload
 * lazily in the new one on their next run.
 */
export class OnnxWorkerPool {
  readonly size: number;
  private readonly maxQueue: number;
  private readonly drainTimeoutMs: number;
  private readonly threads: Array<WorkerThread | undefined>;
  private readonly generations: number[];
  /** Requests batchers hold per slot (admitted, not yet sent), so the queue bound covers them. */
  private readonly waiting: number[];
  private readonly sessions = new Map<string, SessionEntry>();
  private nextRequest = 1;
  private nextSession = 1;
  /** Where the next validation starts looking for the least busy thread, so idle threads take turns. */
  private nextValidationSlot = 0;
  private closed = false;
  /** Slots whose replacement thread is starting. */
  private readonly replacing = new Set<number>();
  #refused = 0;

  constructor(options: OnnxWorkerPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.workers ?? Math.max(1, availableParallelism() - 1)));
    this.maxQueue = Math.max(1, Math.floor(options.maxQueue ?? 64));
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.threads = new Array<WorkerThread | undefined>(this.size).fill(undefined);
    this.generations = new Array<number>(this.size).fill(0);
    this.waiting = new Array<number>(this.size).fill(0);
  }

  /** The slot a model key is assigned to. */
  slotOf(key: string): number {
    return hashKey(key) % this.size;
  }

  /** Creates a session in the key's worker and returns its handle with the model's own metadata. */
  async load(key: string, bytes: Uint8Array): Promise<OnnxSessionHandle> {
    this.assertOpen();
    const entry: SessionEntry = {
      id: `s${this.nextSession++}`,
      key,
      slot: this.slotOf(key),
      // A private copy: the caller's buffer may be reused, and a recycled worker reloads from this one.
      bytes: bytes.slice(),
      metadata: undefined,
    };
    const response = await this.ensureLoaded(entry);
    if (response === undefined || response.kind !== "load") {
      throw new ProtocolError("MODEL_FAILED", "ONNX worker answered a load with something else");
    }
    entry.metadata = response.metadata;
    this.sessions.set(entry.id, entry);
    return { id: entry.id, key, slot: entry.slot, metadata: response.metadata };
  }

  /**
   * Creates a session from the bytes and releases it at once, on the least busy thread (nothing about the model
   * stays behind): resolves with the model's inputs and outputs when onnxruntime accepts it, rejects with an
   * InvalidArtifactError naming its reason when it does not, and with a 503 ProtocolError when no thread could.
   */
  async validate(bytes: Uint8Array): Promise<SessionMetadata> {
    this.assertOpen();
    const start = this.nextValidationSlot++ % this.size;
    let slot = start;
    let fewest = Number.POSITIVE_INFINITY;
    for (let offset = 0; offset < this.size; offset++) {
      const candidate = (start + offset) % this.size;
      const thread = this.threads[candidate];
      const held = (thread?.alive === true ? thread.runs : 0) + (this.waiting[candidate] ?? 0);
      if (held < fewest) {
        fewest = held;
        slot = candidate;
      }
    }
    const response = await this.thread(slot).send({ kind: "validate", id: this.nextRequest++, bytes });
    if (response.kind !== "validate") throw failure(response);
    return response.metadata;
  }

  /**
   * Takes one place in the handle's worker queue for a request a batcher will send later (with `run`, after
   * `release`). Throws the same 503 as `run` when the queue is full, so a batcher cannot hold more requests
   * than the worker would have queued.
   */
  admit(handle: OnnxSessionHandle): void {
    this.assertOpen();
    const entry = this.sessions.get(handle.id);
    if (entry === undefined)
      throw new ProtocolError("MODEL_NOT_READY", `model "${handle.key}" is not loaded`);
    const thread = this.threads[entry.slot];
    this.checkQueue(thread?.alive === true ? thread.runs : 0, entry.slot, 1);
    this.waiting[entry.slot] = (this.waiting[entry.slot] ?? 0) + 1;
  }

  /** Gives back places taken with `admit` (the requests were sent, aborted or dropped). */
  release(handle: OnnxSessionHandle, count: number): void {
    const slot = handle.slot;
    this.waiting[slot] = Math.max(0, (this.waiting[slot] ?? 0) - count);
  }

  /**
   * Runs a session. `transfer` hands the inputs' buffers to the worker instead of copying them; the caller's
   * typed arrays are detached afterwards, so only callers that own the tensors may ask for it. `weight` is the
   * number of requests the run answers (a batch), which is what counts against `maxQueue`.
   */
  async run(
    handle: OnnxSessionHandle,
    feeds: readonly Tensor[],
    fetches: readonly string[] | undefined,
    options: { signal?: AbortSignal; transfer?: boolean; weight?: number } = {},
  ): Promise<Tensor[]> {
    this.assertOpen();
    const entry = this.sessions.get(handle.id);
    if (entry === undefined)
      throw new ProtocolError("MODEL_NOT_READY", `model "${handle.key}" is not loaded`);
    options.signal?.throwIfAborted();
    const weight = Math.max(1, Math.floor(options.weight ?? 1));
    const thread = this.thread(entry.slot);
    this.checkQueue(thread.runs, entry.slot, weight);
    // After a recycle the new thread has not seen this session: post the load and the run back to back; the
    // worker's run waits for the session, so no round trip is spent.
    if (!thread.loaded.has(entry.id)) void this.ensureLoaded(entry).catch(() => undefined);
    const request: WorkerRequest = {
      kind: "run",
      id: this.nextRequest++,
      session: entry.id,
      feeds: feeds as Tensor[],
      fetches: fetches === undefined ? undefined : [...fetches],
    };
    const sent = thread.send(request, options.transfer === true ? transferables(feeds) : [], weight);
    const response = await abortable(sent, options.signal);
    if (response.kind === "run") return response.outputs;
    throw failure(response);
  }

  async unload(handle: OnnxSessionHandle): Promise<void> {
    const entry = this.sessions.get(handle.id);
    if (entry === undefined) return;
    this.sessions.delete(handle.id);
    const thread = this.threads[entry.slot];
    if (thread === undefined || !thread.alive || !thread.loaded.has(entry.id)) return;
    thread.loaded.delete(entry.id);
    const response = await thread.send({ kind: "unload", id: this.nextRequest++, session: entry.id });
    if (response.kind === "error") throw failure(response);
  }

  /**
   * Replaces the thread of one slot (or of every slot): new work goes to a fresh thread at once, which reloads
   * sessions as they are used; the old thread finishes its in-flight work and exits, returning its native
   * memory. Resolves when the old threads have exited.
   */
  async recycle(slot?: number): Promise<void> {
    const slots = slot === undefined ? [...this.threads.keys()] : [slot];
    for (const s of slots) {
      if (!Number.isInteger(s) || s < 0 || s >= this.size) throw new RangeError(`no worker slot ${s}`);
    }
    await Promise.all(slots.map((s) => this.replaceThread(s)));
  }

  /**
   * Starts the replacement and swaps it in only once it answers, so requests never wait for a thread to start
   * (starting one and loading onnxruntime takes hundreds of milliseconds); the old thread keeps serving until
   * then, and finishes its in-flight work after.
   */
  private async replaceThread(slot: number): Promise<void> {
    if (this.replacing.has(slot)) return;
    const old = this.threads[slot];
    if (old === undefined || !old.alive) {
      this.threads[slot] = undefined;
      return;
    }
    this.replacing.add(slot);
    try {
      const fresh = this.startThread(slot);
      try {
        await fresh.send({ kind: "ping", id: this.nextRequest++ });
      } catch {
        // The replacement died before it was ready; the old thread stays and a later recycle tries again.
        return;
      }
      // The slot's resident sessions load into the replacement while the old thread still serves them, so
      // the swap costs requests no reload.
      const resident = [...this.sessions.values()].filter((entry) => entry.slot === slot);
      await Promise.all(resident.map((entry) => this.ensureLoaded(entry, fresh).catch(() => undefined)));
      if (this.closed) {
        await fresh.terminate();
        return;
      }
      // Sessions unloaded while the replacement was loading them must not stay behind in it.
      for (const id of [...fresh.loaded]) {
        if (this.sessions.has(id)) continue;
        fresh.loaded.delete(id);
        void fresh.send({ kind: "unload", id: this.nextRequest++, session: id }).catch(() => undefined);
      }
      // A crash of the old thread meanwhile left the slot empty or with a thread of its own; either way the
      // ready replacement takes the slot.
      const current = this.threads[slot];
      this.threads[slot] = fresh;
      this.generations[slot] = (this.generations[slot] ?? 0) + 1;
      if (current !== undefined && current !== fresh) await current.drain(this.drainTimeoutMs);
    } finally {
      this.replacing.delete(slot);
    }
  }

  /** Requests refused since start because their worker's queue was full (`maxQueue`): each was a 503. */
  get refusedRequests(): number {
    return this.#refused;
  }

  stats(): OnnxWorkerStats[] {
    const counts = new Array<number>(this.size).fill(0);
    for (const entry of this.sessions.values()) counts[entry.slot] = (counts[entry.slot] ?? 0) + 1;
    return this.threads.map((thread, slot) => ({
      slot,
      running: thread?.alive ?? false,
      inFlight: thread?.runs ?? 0,
      waiting: this.waiting[slot] ?? 0,
      sessions: counts[slot] ?? 0,
      loaded: thread?.loaded.size ?? 0,
      generation: this.generations[slot] ?? 0,
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sessions.clear();
    const threads = this.threads.splice(0, this.threads.length);
    await Promise.all(threads.map((thread) => thread?.terminate()));
  }

  private checkQueue(runs: number, slot: number, adding: number): void {
    const held = runs + (this.waiting[slot] ?? 0);
    if (held + adding > this.maxQueue) {
      this.#refused += adding;
      throw new ProtocolError("OVERLOADED", `overloaded: ${held} requests in flight on the model's worker`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ProtocolError("SERVICE_UNAVAILABLE", "the ONNX runtime is closed");
  }

  private thread(slot: number): WorkerThread {
    const current = this.threads[slot];
    if (current?.alive) return current;
    const thread = this.startThread(slot);
    this.threads[slot] = thread;
    this.generations[slot] = (this.generations[slot] ?? 0) + 1;
    return thread;
  }

  private startThread(slot: number): WorkerThread {
    return new WorkerThread(spawnWorker(), (dead) => {
      // A crashed thread is forgotten; the next request starts a fresh one and reloads lazily.
      if (this.threads[slot] === dead) this.threads[slot] = undefined;
    });
  }

  /** Loads the session into its slot's current thread (a no-op answer when it is already there). */
  private async ensureLoaded(
    entry: SessionEntry,
    thread: WorkerThread = this.thread(entry.slot),
  ): Promise<WorkerResponse | undefined> {
    if (thread.loaded.has(entry.id)) return undefined;
    thread.loaded.add(entry.id);
    let response: WorkerResponse;
    try {
      response = await thread.send({
        kind: "load",
        id: this.nextRequest++,
        session: entry.id,
        bytes: entry.bytes,
      });
    } catch (error) {
      thread.loaded.delete(entry.id);
      throw error;
    }
    if (response.kind === "error") {
      // Forget it so the next run tries the load again rather than hitting a missing session.
      thread.loaded.delete(entry.id);
      throw failure(response);
    }
    return response;
  }
}

function failure(response: WorkerResponse): ProtocolError {
  if (response.kind === "error") {
    return response.invalidArtifact === true
      ? new InvalidArtifactError(response.message)
      : new ProtocolError(response.code, response.message);
  }
  return new ProtocolError(
    "MODEL_FAILED",
    `ONNX worker answered with an unexpected ${response.kind} message`,
  );
}

/** Lets the caller stop waiting; the worker still finishes the run, which keeps the in-flight count honest. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function spawnWorker(): Worker {
  // Compiled, the thread runs onnx-worker.js. From source (tsx, Vitest) it runs the TypeScript file, so the
  // thread first registers tsx's loader: execArgv loaders do not reach worker threads on Node 20.
  const fromSource = import.meta.url.endsWith(".ts");
  return fromSource
    ? new Worker(
        `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL("./onnx-worker.ts", import.meta.url).href)}); });`,
        { eval: true },
      )
    : new Worker(new URL("./onnx-worker.js", import.meta.url));
}
