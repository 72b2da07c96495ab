import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { type ApiMethod, type ApiOperation, fillPath, SkalaError } from "../core/index.js";
import {
  API,
  API_PREFIX,
  type JsonOperationName,
  type OperationRequest,
  type OperationResult,
  type RequestArgument,
  type StreamOperationName,
} from "./api.js";
import { openRegularFile } from "./files.js";
import { ResponseCheck } from "./response-check.js";

/** Where client commands send requests when neither `--server` nor `SKALA_SERVER` says otherwise. */
export const DEFAULT_SERVER = "http://127.0.0.1:7070";

/** The server a command talks to, and where that address came from (named when it cannot be reached). */
export interface ServerAddress {
  readonly url: string;
  readonly from: "--server" | "SKALA_SERVER" | "default";
}

/** A failure the server reported, carrying its stable error code (any code: a newer server may add some). */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** A request as the table describes it: path parameters and querystring; the body travels apart. */
interface RequestParts {
  params?: Readonly<Record<string, unknown>>;
  query?: Readonly<Record<string, unknown>>;
}

/**
 * The URL path of an operation: `/api/v1` and its template, each path parameter URL-encoded, then the
 * querystring (undefined values left out, arrays repeating their key). A parameter that is `.` or `..` is
 * refused: a URL resolves such a segment away (`models/../versions` is `versions`), so the request would
 * reach another route.
 */
export function operationPath(op: ApiOperation, request: RequestParts = {}): string {
  const path = fillPath(op.path, (name) => {
    const value = request.params?.[name];
    if (value === undefined) throw new Error(`${op.operationId}: the path parameter ${name} is missing`);
    const text = String(value);
    if (text === "." || text === "..") {
      const message = `must not be "${text}", which a URL cannot carry as a path segment`;
      throw new SkalaError("VALIDATION_FAILED", `params/${name}: ${message}`, {
        issues: [{ path: `params/${name}`, message }],
      });
    }
    return encodeURIComponent(text);
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(request.query ?? {})) {
    if (Array.isArray(value)) for (const item of value) search.append(key, String(item));
    else if (value !== undefined) search.set(key, String(value));
  }
  const query = search.toString();
  return `${API_PREFIX}${path}${query ? `?${query}` : ""}`;
}

export interface SkalaClientOptions {
  /**
   * Check every JSON answer against its operation's response schema and throw on a mismatch: for tests
   * and development, where a server and client that drifted apart should fail loudly.
   */
  checkResponses?: boolean;
}

/**
 * The Skala HTTP API as the CLI uses it, typed by the operation table (api.ts): `call("getModel",
 * { params: { project, model } })` takes and returns the types of that operation's schemas. Every request
 * goes through one `send`, which turns connection failures and error envelopes into errors with codes; any
 * 2xx is success.
 */
export class SkalaClient {
  private readonly responses: ResponseCheck | undefined;

  constructor(
    readonly server: ServerAddress,
    options: SkalaClientOptions = {},
  ) {
    this.responses = options.checkResponses ? new ResponseCheck() : undefined;
  }

  /** A JSON operation; resolves to its parsed answer (null for an empty one, as a 204's schema says). */
  async call<Name extends JsonOperationName>(
    name: Name,
    ...[request]: RequestArgument<Name>
  ): Promise<OperationResult<Name>> {
    const op: ApiOperation = API[name];
    const parts = (request ?? {}) as RequestParts & { body?: unknown };
    const response = await this.send(op.method, operationPath(op, parts), {
      ...(parts.body !== undefined && {
        body: JSON.stringify(parts.body),
        headers: { "content-type": "application/json" },
      }),
    });
    const text = await response.text();
    const type = response.headers.get("content-type") ?? "";
    if (text && !/^application\/json\b/.test(type)) {
      // getFleetReport answers text with format=text: a caller that wants it reads it with `stream`.
      throw new Error(`${op.operationId} answered ${type || "no content type"}, not JSON: use stream()`);
    }
    const body: unknown = text ? JSON.parse(text) : null;
    this.responses?.check(op, response.status, body);
    return body as OperationResult<Name>;
  }

  /** Streams a local file to the artifact store (`uploadArtifact`) and returns what it stored. */
  async upload(file: string): Promise<OperationResult<"uploadArtifact">> {
    const op: ApiOperation = API.uploadArtifact;
    const opened = await openRegularFile(file);
    try {
      const response = await this.send(op.method, operationPath(op), {
        body: Readable.toWeb(opened.stream()) as ReadableStream,
        headers: { "content-type": "application/octet-stream", "content-length": String(opened.size) },
        duplex: "half",
      });
      const body: unknown = await response.json();
      this.responses?.check(op, response.status, body);
      return body as OperationResult<"uploadArtifact">;
    } finally {
      await opened.close();
    }
  }

  /**
   * An operation whose answer is a stream (server-sent events, a CSV download): the successful response,
   * its body unread. It asks for the media types the operation's table entry names.
   */
  async stream<Name extends StreamOperationName>(
    name: Name,
    request: OperationRequest<Name>,
    options: { signal?: AbortSignal } = {},
  ): Promise<Readable> {
    const op: ApiOperation = API[name];
    const response = await this.send(op.method, operationPath(op, request as RequestParts), {
      headers: { accept: mediaTypes(op).join(", ") },
      ...(options.signal && { signal: options.signal }),
    });
    if (response.body === null) return Readable.from([]);
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>, {
      ...(options.signal && { signal: options.signal }),
    });
  }

  private async send(
    method: ApiMethod,
    path: string,
    init: RequestInit & { duplex?: "half" },
  ): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.server.url), { method, ...init });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw unreachable(this.server, error);
    }
    if (response.ok) return response;
    const text = await response.text();
    let envelope: { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined;
    try {
      envelope = JSON.parse(text) as typeof envelope;
    } catch {
      envelope = undefined;
    }
    const error = envelope?.error;
    throw new ClientError(
      typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
      typeof error?.message === "string" ? error.message : text.slice(0, 500),
      response.status,
      error?.details,
    );
  }
}

/** SERVER_UNREACHABLE, naming the address tried, where it came from and how to change it. */
function unreachable(server: ServerAddress, error: unknown): SkalaError {
  const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  const hint =
    server.from === "default"
      ? "is `skala up` running? Another server: --server URL or SKALA_SERVER=URL"
      : `is \`skala up\` running there? The address comes from ${server.from}`;
  return new SkalaError("SERVER_UNREACHABLE", `cannot reach ${server.url} (${reason}): ${hint}`);
}

/** The media types of an operation's success answers that are not JSON, in the table's order. */
function mediaTypes(op: ApiOperation): string[] {
  return Object.values(op.response).flatMap((answer) =>
    "content" in answer ? Object.keys(answer.content).filter((type) => type !== "application/json") : [],
  );
}
