/**
 * The port through which deliveries leave: one POST, no redirects followed, bounded in time. The HTTP adapter
 * (http-transport.ts) is picked by the composition root; the delivery logic knows only this interface.
 */
export interface WebhookRequest {
  url: string;
  headers: Readonly<Record<string, string>>;
  body: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export type WebhookResponse =
  | { kind: "answered"; status: number; retryAfter: string | undefined }
  /** No answer: refused, reset, DNS failure, a refused address, or the attempt's timeout. */
  | { kind: "failed"; error: string; timedOut: boolean };

export interface WebhookTransport {
  send(request: WebhookRequest): Promise<WebhookResponse>;
}
