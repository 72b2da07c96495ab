import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import type { WebhookRequest, WebhookResponse, WebhookTransport } from "./webhook-transport.js";
import { isPrivateAddress } from "./webhook-url.js";

/** Answers are read and dropped up to this many bytes; a receiver that sends more is cut off. */
const MAX_ANSWER_BYTES = 65_536;

/**
 * DNS lookup that refuses private addresses after resolution, so a public name pointing at an internal address
 * (or rebinding to one) cannot reach it. Node may ask for every address (`all: true`, for happy eyeballs).
 */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, "", 4);
    const refused = addresses.find((a) => isPrivateAddress(a.address));
    if (refused || addresses.length === 0) {
      const denied = Object.assign(
        new Error(
          refused
            ? `${hostname} resolves to ${refused.address}, a private address (alerts.allowPrivateAddresses is false)`
            : `${hostname} has no address`,
        ),
        { code: "EADDRREFUSED" },
      );
      return callback(denied, "", 4);
    }
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    } else {
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    }
  });
};

/**
 * Sends a delivery with node:http/https: POST, the caller's headers, one deadline for connection, request and
 * answer; redirects are answers like any other (node:http never follows them). With `allowPrivateAddresses`
 * false, address literals and resolved names in private ranges are refused before connecting.
 */
export function createHttpTransport(options: { allowPrivateAddresses: boolean }): WebhookTransport {
  return {
    send(request: WebhookRequest): Promise<WebhookResponse> {
      return new Promise((resolve) => {
        let settled = false;
        let timer: NodeJS.Timeout | undefined;
        let onAbort = () => {};
        const finish = (response: WebhookResponse) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          request.signal?.removeEventListener("abort", onAbort);
          resolve(response);
        };
        let url: URL;
        try {
          url = new URL(request.url);
        } catch {
          finish({ kind: "failed", error: "the URL is malformed", timedOut: false });
          return;
        }
        const host = url.hostname.replace(/^\[|\]$/g, "");
        if (!options.allowPrivateAddresses && isPrivateAddress(host)) {
          finish({
            kind: "failed",
            error: `${host} is a private address (alerts.allowPrivateAddresses is false)`,
            timedOut: false,
          });
          return;
        }
        const requestOptions: RequestOptions = {
          method: "POST",
          headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
          ...(!options.allowPrivateAddresses && { lookup: guardedLookup }),
        };
        const send = url.protocol === "https:" ? httpsRequest : httpRequest;
        const req = send(url, requestOptions, (res) => {
          let received = 0;
          res.on("data", (chunk: Buffer) => {
            received += chunk.length;
            if (received > MAX_ANSWER_BYTES) res.destroy();
          });
          const answered = () =>
            finish({
              kind: "answered",
              status: res.statusCode ?? 0,
              retryAfter:
                typeof res.headers["retry-after"] === "string" ? res.headers["retry-after"] : undefined,
            });
          res.on("end", answered);
          res.on("close", answered);
          res.on("error", answered);
        });
        timer = setTimeout(() => {
          finish({ kind: "failed", error: `no answer within ${request.timeoutMs} ms`, timedOut: true });
          req.destroy();
        }, request.timeoutMs);
        onAbort = () => {
          finish({ kind: "failed", error: "the delivery was stopped", timedOut: false });
          req.destroy();
        };
        request.signal?.addEventListener("abort", onAbort, { once: true });
        req.on("error", (error: NodeJS.ErrnoException) => {
          finish({ kind: "failed", error: `${error.code ?? "error"}: ${error.message}`, timedOut: false });
        });
        req.end(request.body);
      });
    },
  };
}
