import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { SkalaError } from "../core/index.js";
import { openRegularFile } from "./files.js";

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

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

/** `/api/v1/projects/{project}/…`, each segment URL-encoded. */
export function projectPath(project: string, ...segments: Array<string | number>): string {
  return ["/api/v1/projects", project, ...segments]
    .map((s, i) => (i === 0 ? s : encodeURIComponent(s)))
    .join("/");
}

/** `?a=1&tag=x&tag=y` from the defined values; arrays repeat the key. Empty when nothing is defined. */
export function query(params: Record<string, string | number | readonly string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (Array.isArray(value)) for (const v of value) search.append(key, v);
    else if (value !== undefined) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * The Skala HTTP API as the CLI uses it. Every call goes through one `send`, which turns connection
 * failures and error envelopes into errors with codes; any 2xx is success. Commands name routes by method
 * and path, so a typed layer (request and response types per route, from the server's schemas) can later
 * wrap `request` without changing how failures look.
 */
export class SkalaClient {
  constructor(readonly server: ServerAddress) {}

  /** A JSON request; resolves to the parsed body (undefined for an empty one). */
  async request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, {
      ...(body !== undefined && {
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      }),
    });
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Streams a local file to the artifact store and returns its digest. */
  async upload(file: string): Promise<{ digest: string; size: number }> {
    const opened = await openRegularFile(file);
    try {
      const response = await this.send("POST", "/api/v1/artifacts", {
        body: Readable.toWeb(opened.stream()) as ReadableStream,
        headers: { "content-type": "application/octet-stream", "content-length": String(opened.size) },
        duplex: "half",
      });
      return (await response.json()) as { digest: string; size: number };
    } finally {
      await opened.close();
    }
  }

  /** A streaming GET (server-sent events, a CSV download): the successful response, its body unread. */
  async stream(path: string, options: { accept?: string; signal?: AbortSignal } = {}): Promise<Readable> {
    const response = await this.send("GET", path, {
      ...(options.accept && { headers: { accept: options.accept } }),
      ...(options.signal && { signal: options.signal }),
    });
    if (response.body === null) return Readable.from([]);
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>, {
      ...(options.signal && { signal: options.signal }),
    });
  }

  private async send(
    method: HttpMethod,
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
