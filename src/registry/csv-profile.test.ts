import { describe, expect, it } from "vitest";
import { isSkalaError } from "../core/index.js";
import { profileCsv } from "./csv-profile.js";

const SECRET = "root:x:0:0:secret";

async function* chunks(text: string, size = 8): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** The profiler's answer, or "pending" if it has none within a second. */
async function outcome(text: string): Promise<unknown> {
  const pending = new Promise((resolve) => setTimeout(() => resolve("pending"), 1_000));
  return Promise.race([
    profileCsv(chunks(text)).then(
      (profile) => profile,
      (error: unknown) => error,
    ),
    pending,
  ]);
}

describe("profileCsv on files that are no CSV", () => {
  // Registering /etc/passwd (or any file) as a dataset: its first line is taken for the header.
  it.each([
    ["a quote inside the first field", `${SECRET}"x\nA,1\n`, /^line 1: a quote inside a field/],
    ["a quoted field that goes on", `a,b\n"${SECRET}"x,1\n`, /^line 2: a quoted field goes on after its/],
    ["a quote never closed", `a,b\n"${SECRET}\n`, /^line 2: a quoted field is never closed$/],
    [
      "a duplicate column",
      `${SECRET},${SECRET}\n1,2\n`,
      /^line 1, column 2: the same column name as column 1$/,
    ],
    ["a ragged row", `${SECRET}\n1,2\n`, /^line 2: a record has another number of fields than the header$/],
  ])("%s: DATASET_INVALID with the line, quoting nothing of the file", async (_, text, message) => {
    const error = await outcome(text);
    // Bad quoting used to leave the profiler waiting for a drain that a destroyed parser never sends.
    expect(error).not.toBe("pending");
    expect(isSkalaError(error) && error.code).toBe("DATASET_INVALID");
    const { message: said, details } = error as Error & { details?: unknown };
    expect(said).toMatch(message);
    expect(said).not.toContain("secret");
    expect(JSON.stringify(details)).not.toContain("secret");
  });

  it("still profiles a CSV fed in small chunks", async () => {
    expect(await outcome("a,b\n1,x\n2,y\n")).toEqual({
      rows: 2,
      schema: [
        { name: "a", type: "integer", nullable: false },
        { name: "b", type: "string", nullable: false },
      ],
    });
  });
});
