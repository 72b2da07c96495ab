import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Webhook signatures: `Skala-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
 * timestamp is signed with the body, so a receiver that refuses timestamps outside its replay window (5 minutes
 * is the documented default) refuses a captured request replayed later. docs/reference/alerts.md shows a receiver.
 */
export const SIGNATURE_HEADER = "Skala-Signature";
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** A new random secret, shown once when a subscription is made. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

export function signatureHeader(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},v1=${mac}`;
}

export type VerifyOutcome =
  | { ok: true; timestamp: number }
  | { ok: false; reason: "malformed" | "mismatch" | "expired" };

/**
 * Checks a signature header against the raw body as received (before any JSON parsing), in constant time;
 * what a receiver does. Any `v1` in the header may match (several appear while a secret is rotated).
 */
export function verifySignature(options: {
  secret: string;
  body: string;
  header: string;
  nowSeconds: number;
  toleranceSeconds?: number;
}): VerifyOutcome {
  const parts = options.header.split(",").map((part) => part.trim().split("="));
  const t = parts.find(([k]) => k === "t")?.[1];
  const candidates = parts.filter(([k, v]) => k === "v1" && v !== undefined).map(([, v]) => v as string);
  if (t === undefined || !/^\d{1,12}$/.test(t) || candidates.length === 0) {
    return { ok: false, reason: "malformed" };
  }
  const timestamp = Number(t);
  const expected = Buffer.from(
    createHmac("sha256", options.secret).update(`${t}.${options.body}`).digest("hex"),
  );
  const matches = candidates.some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) return { ok: false, reason: "mismatch" };
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(options.nowSeconds - timestamp) > tolerance) return { ok: false, reason: "expired" };
  return { ok: true, timestamp };
}
