import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSkalaError } from "../core/index.js";
import { signatureHeader, verifySignature } from "./signature.js";
import { isPrivateAddress, validateWebhookUrl } from "./webhook-url.js";

describe("webhook URLs and signatures under random input", () => {
  it("accept a URL or refuse it with WEBHOOK_URL_INVALID, never anything else", () => {
    const urlish = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc
        .tuple(fc.constantFrom("http://", "https://", "ftp://", "file://", "javascript:", "//"), fc.string())
        .map(([scheme, rest]) => scheme + rest),
    );
    fc.assert(
      fc.property(urlish, fc.boolean(), (text, allowPrivateAddresses) => {
        try {
          const accepted = new URL(validateWebhookUrl(text, { allowPrivateAddresses }));
          expect(["http:", "https:"]).toContain(accepted.protocol);
          expect(accepted.username + accepted.password).toBe("");
          if (!allowPrivateAddresses) expect(isPrivateAddress(accepted.hostname)).toBe(false);
        } catch (error) {
          expect(isSkalaError(error) && error.code).toBe("WEBHOOK_URL_INVALID");
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("verify only the body and secret they were made with, and never throw on a malformed header", () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 16 }), fc.string(), (body, secret, header) => {
        const now = 1_767_225_600;
        const signed = signatureHeader(secret, body, now);
        expect(verifySignature({ secret, body, header: signed, nowSeconds: now }).ok).toBe(true);
        expect(verifySignature({ secret, body: `${body}x`, header: signed, nowSeconds: now }).ok).toBe(false);
        expect(verifySignature({ secret: `${secret}x`, body, header: signed, nowSeconds: now }).ok).toBe(
          false,
        );
        expect(verifySignature({ secret, body, header, nowSeconds: now }).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
