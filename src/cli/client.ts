import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";

/** A failure reported by the server (or by reaching it), carrying the stable error code. */
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

export class SkalaClient {
  constructor(readonly server: string) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.send<T>(method, path, {
      ...(body !== undefined && {
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      }),
    });
  }

  /** Streams a file to the artifact store and returns its digest. */
  async upload(file: string): Promise<{ digest: string; size: number }> {
    const { size } = await stat(file);
    return this.send("POST", "/api/v1/artifacts", {
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
      duplex: "half",
    });
  }

  private async send<T>(method: string, path: string, init: RequestInit & { duplex?: "half" }): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.server), { method, ...init });
    } catch (error) {
      throw new ClientError(
        "SERVER_UNREACHABLE",
        `cannot reach ${this.server}: ${(error as Error).cause ?? (error as Error).message} (is \`skala up\` running?)`,
        0,
      );
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
        ?.error;
      throw new ClientError(
        error?.code ?? `HTTP_${response.status}`,
        error?.message ?? text,
        response.status,
        error?.details,
      );
    }
    return parsed as T;
  }
}
