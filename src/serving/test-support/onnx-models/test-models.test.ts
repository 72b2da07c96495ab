import { createHash } from "node:crypto";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import {
  buildTestModel,
  encodeModel,
  linearModel,
  ProtobufWriter,
  randomInput,
  referenceOutput,
  type TestModelSpec,
  testModelSignature,
} from "./index.js";

// The settings the inference server uses for thousands of small models (BRIEF §10).
const SESSION_OPTIONS = { intraOpNumThreads: 1, interOpNumThreads: 1 } as const;
const TOLERANCE = 1e-5;

const SPECS: TestModelSpec[] = [
  { kind: "linear", inputs: 4, outputs: 3, seed: 1 },
  { kind: "linear", inputs: 64, outputs: 16, seed: 2 },
  { kind: "mlp", inputs: 5, hidden: 8, outputs: 2, seed: 3 },
  { kind: "mlp", inputs: 32, hidden: 128, outputs: 10, seed: 4 },
  { kind: "tree-ensemble", features: 6, trees: 10, depth: 3, seed: 5 },
  { kind: "tree-ensemble", features: 20, trees: 100, depth: 6, seed: 6 },
];

function widthOf(spec: TestModelSpec): number {
  return testModelSignature(spec).input.shape[1];
}

async function withSession<T>(bytes: Uint8Array, use: (session: InferenceSession) => Promise<T>): Promise<T> {
  const session = await InferenceSession.create(bytes, SESSION_OPTIONS);
  try {
    return await use(session);
  } finally {
    await session.release();
  }
}

describe("ProtobufWriter", () => {
  const varint = (value: number | bigint) => {
    const w = new ProtobufWriter(1);
    w.varint(value);
    return [...w.finish()];
  };

  it("encodes varints as the protobuf documentation's examples", () => {
    expect(varint(0)).toEqual([0]);
    expect(varint(1)).toEqual([1]);
    expect(varint(150)).toEqual([0x96, 0x01]);
    expect(varint(300)).toEqual([0xac, 0x02]);
  });

  it("encodes 64-bit values and sign-extends negatives to ten bytes", () => {
    expect(varint(2 ** 32)).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(varint(2 ** 53 - 1)).toEqual(varint(2n ** 53n - 1n));
    expect(varint(2 ** 31 + 2 ** 38 + 5)).toEqual(varint(BigInt(2 ** 31 + 2 ** 38 + 5)));
    expect(varint(-1)).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(varint(-1n)).toEqual(varint(-1));
    expect(() => varint(1.5)).toThrow(RangeError);
  });

  it("writes tags, packed lists and nested messages", () => {
    const w = new ProtobufWriter(1);
    w.int(1, 150).string(2, "hé").packedInts(4, [3, 270]).packedFloats(5, [1]);
    w.message(3, (child) => child.int(1, 150));
    expect([...w.finish()]).toEqual([
      0x08,
      0x96,
      0x01, // field 1 varint
      0x12,
      0x03,
      0x68,
      0xc3,
      0xa9, // field 2 "hé" in UTF-8
      0x22,
      0x03,
      0x03,
      0x8e,
      0x02, // field 4 packed [3, 270]
      0x2a,
      0x04,
      0x00,
      0x00,
      0x80,
      0x3f, // field 5 packed [1.0f]
      0x1a,
      0x03,
      0x08,
      0x96,
      0x01, // field 3 { field 1: 150 }
    ]);
  });

  it("prefixes nested messages longer than 127 bytes with a multi-byte length", () => {
    const w = new ProtobufWriter(1);
    w.message(1, (outer) => outer.message(2, (inner) => inner.bytesField(3, new Uint8Array(20_000).fill(7))));
    const bytes = w.finish();
    // Inner body: tag + 3-byte length + 20,000 = 20,004 bytes; outer body: tag + 3-byte length + 20,004.
    expect([...bytes.subarray(0, 12)]).toEqual(
      [
        [0x0a, 0xa8, 0x9c, 0x01],
        [0x12, 0xa4, 0x9c, 0x01],
        [0x1a, 0xa0, 0x9c, 0x01],
      ].flat(),
    );
    expect(bytes.length).toBe(3 * 4 + 20_000);
    expect(bytes.at(-1)).toBe(7);
  });
});

describe("encodeModel", () => {
  it("writes float_data tensors as well as raw_data ones", async () => {
    const bytes = encodeModel({
      graph: {
        name: "scale",
        nodes: [{ opType: "Mul", inputs: ["x", "k"], outputs: ["y"] }],
        initializers: [
          {
            name: "k",
            dims: [2],
            dataType: "float",
            data: new Float32Array([2, -3]),
            encoding: "float_data",
          },
        ],
        inputs: [{ name: "x", elemType: "float", shape: ["n", 2] }],
        outputs: [{ name: "y", elemType: "float", shape: ["n", 2] }],
      },
    });
    const y = await withSession(bytes, async (session) => {
      const out = await session.run({ x: new Tensor("float32", new Float32Array([1, 1, 0.5, 2]), [2, 2]) });
      return Array.from(out.y?.data as Float32Array);
    });
    expect(y).toEqual([2, -3, 1, -6]);
  });

  it("rejects a tensor whose data does not fill its dims", () => {
    expect(() =>
      encodeModel({
        graph: {
          name: "bad",
          nodes: [],
          initializers: [{ name: "k", dims: [2, 2], dataType: "float", data: new Float32Array(3) }],
          inputs: [],
          outputs: [],
        },
      }),
    ).toThrow(/do not fill/);
  });
});

describe.each(SPECS)("test model %o", (spec) => {
  const bytes = buildTestModel(spec);

  it("declares the signature it was built with", async () => {
    const signature = testModelSignature(spec);
    await withSession(bytes, async (session) => {
      expect(session.inputNames).toEqual(["input"]);
      expect(session.outputNames).toEqual(["output"]);
      expect(session.inputMetadata).toEqual([
        { name: "input", isTensor: true, type: "float32", shape: signature.input.shape },
      ]);
      expect(session.outputMetadata).toEqual([
        { name: "output", isTensor: true, type: "float32", shape: signature.output.shape },
      ]);
    });
  });

  it.each([1, 7])("matches the reference evaluator for a batch of %i", async (batch) => {
    const width = widthOf(spec);
    const outputs = testModelSignature(spec).output.shape[1];
    const input = randomInput(width, batch, spec.seed * 100 + batch);
    const expected = referenceOutput(spec, input);
    const output = await withSession(bytes, async (session) => {
      const result = await session.run({ input: new Tensor("float32", input, [batch, width]) });
      return result.output;
    });
    expect(output?.dims).toEqual([batch, outputs]);
    const actual = output?.data as Float32Array;
    expect(actual).toHaveLength(expected.length);
    for (let i = 0; i < expected.length; i++) {
      expect(Math.abs((actual[i] as number) - (expected[i] as number))).toBeLessThan(TOLERANCE);
    }
  });

  it("is reproducible from its seed", () => {
    expect(Buffer.from(buildTestModel(spec)).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe("test model generation", () => {
  it("makes 1,000 distinct linear models in well under two seconds", () => {
    const started = performance.now();
    const digests = new Set<string>();
    for (let seed = 0; seed < 1000; seed++) {
      const bytes = linearModel({ inputs: 16, outputs: 4, seed });
      digests.add(createHash("sha256").update(bytes).digest("hex"));
    }
    expect(performance.now() - started).toBeLessThan(2000);
    expect(digests.size).toBe(1000);
  });

  it("gives different weights to neighbouring seeds", () => {
    const input = randomInput(8, 1, 0);
    const a = referenceOutput({ kind: "linear", inputs: 8, outputs: 2, seed: 0 }, input);
    const b = referenceOutput({ kind: "linear", inputs: 8, outputs: 2, seed: 1 }, input);
    expect([...a]).not.toEqual([...b]);
  });

  it("exercises both branches of the trees", () => {
    const spec: TestModelSpec = { kind: "tree-ensemble", features: 4, trees: 1, depth: 4, seed: 11 };
    const output = referenceOutput(spec, randomInput(4, 200, 12));
    // Splits cut inside their path's interval, so all 16 leaves are reachable and 200 rows reach nearly all.
    expect(new Set(output).size).toBeGreaterThanOrEqual(14);
  });

  it("rejects nonsensical specs", () => {
    expect(() => linearModel({ inputs: 0, outputs: 1, seed: 1 })).toThrow(RangeError);
    expect(() => buildTestModel({ kind: "mlp", inputs: 2, hidden: 1.5, outputs: 1, seed: 1 })).toThrow(
      RangeError,
    );
    expect(() =>
      buildTestModel({ kind: "tree-ensemble", features: 2, trees: 1, depth: 17, seed: 1 }),
    ).toThrow(RangeError);
    expect(() => linearModel({ inputs: 1, outputs: 1, seed: Number.NaN })).toThrow(RangeError);
  });
});
