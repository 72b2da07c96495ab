import type { IncomingMessage } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import type { FastifyInstance } from "fastify";
import { SkalaError } from "../core/index.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * The route streams its body elsewhere (the artifact upload writes it to the blob store) instead of
     * buffering it, so its bytes do not count against the in-flight body budget; its deadline still applies.
     */
    streamsBody?: boolean;
  }
}

export interface BodyGuardOptions {
  /** A body must have arrived this long after its headers, plus one second per `minBytesPerSecond` bytes. */
  timeoutMs: number;
  minBytesPerSecond: number;
  /** Bytes of buffered request bodies held at once, over every request being read or answered. */
  inflightBytes: number;
}

/** Bytes of request bodies held in memory; shared by every request of one server. */
export class BodyBudget {
  #held = 0;

  constructor(readonly limitBytes: number) {}

  tryTake(bytes: number): boolean {
    if (this.#held + bytes > this.limitBytes) return false;
    this.#held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#held -= bytes;
  }

  get heldBytes(): number {
    return this.#held;
  }
}

function overloaded(budget: BodyBudget): SkalaError {
  return new SkalaError(
    "OVERLOADED",
    `overloaded: request bodies being read hold the server's ${budget.limitBytes}-byte budget; retry`,
  );
}

/**
 * Passes a request body through unchanged while enforcing its deadline and, for buffered bodies, the shared
 * budget. The deadline grows with the bytes received (as Apache's mod_reqtimeout `MinRate` does), so a large
 * body on a slow but honest link arrives, while a socket that sends headers and one byte is cut off after
 * `timeoutMs`: it holds no admission slot and no memory meanwhile, and costs one timer.
 */
class BodyMeter extends Transform {
  #received = 0;
  #reserved = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: BodyGuardOptions,
    private readonly budget: BodyBudget | undefined,
    private readonly startedAt: number,
  ) {
    super();
    this.#arm(options.timeoutMs);
  }

  /** Bytes taken from the budget; the request gives them back when its answer is done. */
  get reservedBytes(): number {
    return this.#reserved;
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => this.#check(), Math.max(1, delayMs));
    this.#timer.unref();
  }

  #check(): void {
    this.#timer = undefined;
    const { timeoutMs, minBytesPerSecond } = this.options;
    const deadline = this.startedAt + timeoutMs + (this.#received * 1000) / minBytesPerSecond;
    const now = performance.now();
    if (now < deadline) {
      this.#arm(deadline - now);
      return;
    }
    this.destroy(
      new SkalaError(
        "BODY_TIMEOUT",
        `the request body arrived too slowly: ${this.#received} bytes in ${Math.round(now - this.startedAt)} ms ` +
          `(the server waits ${timeoutMs} ms plus 1 s per ${minBytesPerSecond} bytes)`,
        { receivedBytes: this.#received },
      ),
    );
  }

  #stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#received += chunk.length;
    if (this.budget !== undefined) {
      if (!this.budget.tryTake(chunk.length)) {
        callback(overloaded(this.budget));
        return;
      }
      this.#reserved += chunk.length;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#stop();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stop();
    callback(error);
  }
}

function mayHaveBody(raw: IncomingMessage): boolean {
  if (raw.method === "GET" || raw.method === "HEAD") return false;
  const length = raw.headers["content-length"];
  return raw.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * Meters every request body (a `preParsing` stream, the way Fastify lets a plugin see the body as it arrives).
 * Its errors reach the error handler like any other: BODY_TIMEOUT (408) or OVERLOADED (503), both with
 * `Connection: close` since the rest of the body is never read.
 */
export function installBodyGuard(app: FastifyInstance, options: BodyGuardOptions): BodyBudget {
  const budget = new BodyBudget(options.inflightBytes);
  app.addHook("preParsing", (request, reply, payload, done) => {
    if (!mayHaveBody(request.raw)) {
      done(null, payload);
      return;
    }
    const counted = request.routeOptions.config.streamsBody === true ? undefined : budget;
    if (request.raw.complete === true) {
      // The whole body came with the headers (most small requests): nothing left to time, only bytes to count.
      const bytes = request.raw.readableLength;
      if (counted !== undefined && !counted.tryTake(bytes)) {
        done(overloaded(counted));
        return;
      }
      reply.raw.once("close", () => counted?.give(bytes));
      done(null, payload);
      return;
    }
    const meter = new BodyMeter(options, counted, performance.now());
    // Not pipeline(): a failed meter must leave the socket open for its 408 or 503 answer.
    payload.once("error", (error) => meter.destroy(error));
    payload.once("close", () => {
      if (!payload.readableEnded) meter.destroy(new Error("the client closed the connection mid-body"));
    });
    // The body parser reports the meter's errors while it reads. A body refused unread (Fastify's 413 for a
    // Content-Length over the limit) has no reader, and an 'error' event with no listener would crash the
    // process when the deadline passes: the request is answered by then, so such an error has nowhere to go.
    meter.on("error", () => {});
    payload.pipe(meter);
    reply.raw.once("close", () => {
      budget.give(meter.reservedBytes);
      // The answer is sent (or the client gone): the deadline of a body nobody reads any more is moot.
      meter.destroy();
    });
    done(null, meter);
  });
  return budget;
}
