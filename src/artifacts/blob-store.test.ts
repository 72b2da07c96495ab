import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SkalaError } from "../core/index.js";
import { describeBlobStoreContract } from "./blob-store.contract.js";
import { digestOf, isDigest, parseDigest, putJson, readJson } from "./blob-store.js";
import { createFsBlobStore } from "./fs-blob-store.js";
import { createMemoryBlobStore } from "./memory-blob-store.js";

describeBlobStoreContract("fs", async (clock) => {
  const root = await mkdtemp(join(tmpdir(), "skala-blobs-"));
  return {
    store: createFsBlobStore(root, { clock }),
    leftovers: () => readdir(join(root, "tmp")).catch(() => []),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describeBlobStoreContract("memory", async (clock) => ({
  store: createMemoryBlobStore({ clock }),
  leftovers: async () => [],
  cleanup: async () => {},
}));

describe("parseDigest", () => {
  const valid = `sha256:${"ab".repeat(32)}`;

  it("accepts sha256 followed by 64 lowercase hex characters", () => {
    expect(parseDigest(valid)).toBe(valid);
    expect(isDigest(valid)).toBe(true);
  });

  it.each([
    ["upper case", `sha256:${"AB".repeat(32)}`],
    ["too short", `sha256:${"a".repeat(63)}`],
    ["too long", `sha256:${"a".repeat(65)}`],
    ["other algorithm", `sha512:${"a".repeat(64)}`],
    ["no prefix", "a".repeat(64)],
    ["path characters", `sha256:../${"a".repeat(61)}`],
    ["surrounding space", ` ${valid}`],
    ["empty", ""],
  ])("rejects %s with VALIDATION_FAILED", (_label, input) => {
    expect(isDigest(input)).toBe(false);
    expect(() => parseDigest(input, "/digest")).toThrowError(
      expect.objectContaining({
        code: "VALIDATION_FAILED",
        message: expect.stringContaining("64 lowercase hex"),
        details: { issues: [expect.objectContaining({ path: "/digest" })] },
      }),
    );
  });

  it("never throws anything but VALIDATION_FAILED on random input", () => {
    fc.assert(
      fc.property(fc.string(), (input) => {
        try {
          expect(parseDigest(input)).toBe(input);
        } catch (error) {
          expect(error).toBeInstanceOf(SkalaError);
          expect((error as SkalaError).code).toBe("VALIDATION_FAILED");
        }
      }),
    );
  });

  it("round-trips digestOf", () => {
    fc.assert(fc.property(fc.uint8Array(), (bytes) => isDigest(digestOf(bytes))));
  });
});

describe("putJson and readJson", () => {
  it("stores JSON.stringify output and reads it back", async () => {
    const store = createMemoryBlobStore();
    const value = { model: "carparts", metrics: { mae: 1.5 } };
    const { digest } = await putJson(store, value, { maxBytes: 1000 });
    expect(digest).toBe(digestOf(Buffer.from(JSON.stringify(value))));
    expect(await readJson(store, digest)).toEqual(value);
  });

  it("rejects values without a JSON form and blobs that are not JSON", async () => {
    const store = createMemoryBlobStore();
    await expect(putJson(store, undefined, { maxBytes: 1000 })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    const { digest } = await store.put(Buffer.from("not json"), { maxBytes: 1000 });
    await expect(readJson(store, digest)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});
