import { BlockList, isIP } from "node:net";
import { SkalaError } from "../core/index.js";

export const MAX_WEBHOOK_URL_CHARS = 2_048;

/**
 * Loopback, private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254 included),
 * carrier-grade NAT, benchmark, multicast and reserved ranges: what `alerts.allowPrivateAddresses: false`
 * refuses, so that a subscription cannot make the server call into its own network.
 */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv6");
}

/** Whether an IP address (v4, v6, or v4 mapped into v6) is one `allowPrivateAddresses: false` refuses. */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return PRIVATE.check(mapped[1] as string, "ipv4");
  // The same mapping written in hex, as URL parsing normalises it: ::ffff:7f00:1 is 127.0.0.1.
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(bare);
  if (hexMapped) {
    const high = Number.parseInt(hexMapped[1] as string, 16);
    const low = Number.parseInt(hexMapped[2] as string, 16);
    return PRIVATE.check(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`, "ipv4");
  }
  const family = isIP(bare);
  if (family === 4) return PRIVATE.check(bare, "ipv4");
  if (family === 6) return PRIVATE.check(bare, "ipv6");
  return false;
}

function refuse(url: string, message: string): SkalaError {
  return new SkalaError("WEBHOOK_URL_INVALID", message, {
    issues: [{ path: "/url", message }],
    // The URL as given, cut short: it is the caller's own input, and names no secret (credentials are refused).
    url: url.length > 200 ? `${url.slice(0, 200)}…` : url,
  });
}

/**
 * Checks a subscription's URL: absolute http or https, a host, no user name or password (they would be sent to
 * and logged by every proxy on the way; the signature authenticates instead), at most 2,048 characters, and no
 * private address literal or `localhost` when private addresses are not allowed. A host name is checked again
 * after DNS when each delivery connects. Returns the URL normalised.
 */
export function validateWebhookUrl(text: string, options: { allowPrivateAddresses: boolean }): string {
  if (typeof text !== "string" || text.length === 0) throw refuse(String(text), "the URL is empty");
  if (text.length > MAX_WEBHOOK_URL_CHARS) {
    throw refuse(text, `the URL is longer than ${MAX_WEBHOOK_URL_CHARS} characters`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refuse(text, "the URL is not an absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw refuse(
      text,
      `the URL's scheme is ${url.protocol.replace(/:$/, "")}; only http and https are allowed`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw refuse(
      text.replace(/\/\/[^@/]*@/, "//***@"),
      "the URL holds credentials (user:password@); they are refused, receivers verify the Skala-Signature instead",
    );
  }
  if (url.hostname === "") throw refuse(text, "the URL has no host");
  if (!options.allowPrivateAddresses) {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isPrivateAddress(host) || host === "localhost" || host.endsWith(".localhost")) {
      throw refuse(
        text,
        `the URL's host ${url.hostname} is a private, loopback or link-local address, which alerts.allowPrivateAddresses forbids`,
      );
    }
  }
  return url.toString();
}
