import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { float16FromBits } from "./float16.js";
import { decodeInferRequest, encodeInferResponse } from "./infer-request.js";
import { ProtocolError } from "./protocol-error.js";
import { DATATYPES, type Datatype, type JsonElement } from "./tensor.js";

/** Runs the decoder and lets through only success or a 400 ProtocolError. */
function decodesOrRejectsCleanly(body: unknown): void {
  try {
    decodeInferRequest(body);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    expect(error.code).toBe("INFER_REQUEST_INVALID");
    expect(error.message.length).toBeGreaterThan(0);
  }
}

const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const scalar = fc.oneof(
  fc.integer({ min: -300, max: 300 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("NaN", "Infinity", "1", "-0", "9223372036854775808", "x"),
  fc.string({ maxLength: 4 }),
);
const nestedData = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("node"), { maxLength: 4 }),
  ),
})).node;
const dim = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 1.5, 2 ** 53, "2", null));
const parameters = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 20 }), scalar, { maxKeys: 3 }),
  fc.constant({ binary_data_size: 8 }),
  fc.jsonValue(),
);
const inputLike = fc.oneof(
  fc.record(
    {
      name: fc.oneof(fc.constantFrom("a", "b", ""), fc.jsonValue()),
      shape: fc.oneof(fc.array(dim, { maxLength: 4 }), fc.jsonValue()),
      datatype: fc.oneof(fc.constantFrom(...DATATYPES), fc.string({ maxLength: 6 })),
      data: fc.oneof(
        fc.array(nestedData, { maxLength: 8 }),
        fc.array(scalar, { maxLength: 16 }),
        fc.jsonValue(),
      ),
      parameters,
      extra: fc.jsonValue(),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue(),
);
const bodyLike = fc.record(
  {
    id: fc.oneof(fc.string(), fc.jsonValue()),
    parameters,
    inputs: fc.oneof(fc.array(inputLike, { maxLength: 4 }), fc.jsonValue()),
    outputs: fc.oneof(
      fc.array(fc.record({ name: fc.jsonValue(), parameters }, { requiredKeys: [] }), { maxLength: 3 }),
      fc.jsonValue(),
    ),
    model_name: fc.string(),
  },
  { requiredKeys: [] },
);

describe("decodeInferRequest never fails with anything but a 400 ProtocolError", () => {
  it("for arbitrary JSON values", () => {
    fc.assert(fc.property(fc.jsonValue(), decodesOrRejectsCleanly), { numRuns: 500 });
  });

  it("for arbitrary JavaScript values", () => {
    fc.assert(fc.property(fc.anything(), decodesOrRejectsCleanly), { numRuns: 300 });
  });

  it("for bodies shaped like infer requests", () => {
    fc.assert(
      fc.property(bodyLike, (body) => {
        decodesOrRejectsCleanly(body);
        decodesOrRejectsCleanly(json(body));
      }),
      { numRuns: 2000 },
    );
  });
});

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function floatJson(value: number): JsonElement {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

/** For each datatype: an element as the client may send it, paired with the canonical form the server writes. */
function elementArb(datatype: Datatype): fc.Arbitrary<[JsonElement, JsonElement]> {
  const same = (arb: fc.Arbitrary<JsonElement>) => arb.map((v): [JsonElement, JsonElement] => [v, v]);
  const big = (min: bigint, max: bigint) =>
    fc.tuple(fc.bigInt({ min, max }), fc.boolean()).map(([b, asString]): [JsonElement, JsonElement] => {
      const safe = b <= MAX_SAFE && b >= -MAX_SAFE;
      const canonical = safe ? Number(b) : b.toString();
      return [safe && !asString ? Number(b) : b.toString(), canonical];
    });
  switch (datatype) {
    case "BOOL":
      return same(fc.boolean());
    case "UINT8":
      return same(fc.integer({ min: 0, max: 255 }));
    case "UINT16":
      return same(fc.integer({ min: 0, max: 65535 }));
    case "UINT32":
      return same(fc.integer({ min: 0, max: 4294967295 }));
    case "INT8":
      return same(fc.integer({ min: -128, max: 127 }));
    case "INT16":
      return same(fc.integer({ min: -32768, max: 32767 }));
    case "INT32":
      return same(fc.integer());
    case "INT64":
      return big(-(2n ** 63n), 2n ** 63n - 1n);
    case "UINT64":
      return big(0n, 2n ** 64n - 1n);
    case "FP16":
      return fc.integer({ min: 0, max: 0xffff }).map((bits): [JsonElement, JsonElement] => {
        const v = floatJson(float16FromBits(bits));
        return [v, v];
      });
    case "FP32":
      return fc.float().map((v): [JsonElement, JsonElement] => [floatJson(v), floatJson(v)]);
    case "FP64":
      return fc.double().map((v): [JsonElement, JsonElement] => [floatJson(v), floatJson(v)]);
    case "BYTES":
      return same(fc.string({ unit: "binary", maxLength: 8 }));
    default: {
      const never: never = datatype;
      throw new Error(`unknown datatype ${never}`);
    }
  }
}

/** Lays flat row-major data out nested like the shape. */
function nest(flat: readonly unknown[], shape: readonly number[]): unknown[] {
  if (shape.length <= 1) return flat.slice();
  const build = (offset: number, depth: number): unknown[] => {
    const size = shape[depth] as number;
    if (depth === shape.length - 1) return flat.slice(offset, offset + size);
    const stride = shape.slice(depth + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: size }, (_, i) => build(offset + i * stride, depth + 1));
  };
  return build(0, 0);
}

const tensorArb = fc
  .tuple(
    fc.constantFrom(...DATATYPES),
    fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
    fc.boolean(),
  )
  .chain(([datatype, shape, nested]) => {
    const count = shape.reduce((a, b) => a * b, 1);
    return fc.array(elementArb(datatype), { minLength: count, maxLength: count }).map((pairs) => ({
      datatype,
      shape,
      nested,
      sent: pairs.map((p) => p[0]),
      canonical: pairs.map((p) => p[1]),
    }));
  });

describe("valid tensors round-trip through decode and encode", () => {
  it("flat or nested, every datatype", () => {
    fc.assert(
      fc.property(tensorArb, ({ datatype, shape, nested, sent, canonical }) => {
        const data = nested ? nest(sent, shape) : sent;
        // Through JSON text, as a real body would travel.
        const body = json({ id: "r", inputs: [{ name: "t", datatype, shape, data }] });
        const request = decodeInferRequest(body);
        const response = json(
          encodeInferResponse({ modelName: "m", id: request.id, outputs: request.inputs }),
        );
        expect(response).toEqual(
          json({ model_name: "m", id: "r", outputs: [{ name: "t", datatype, shape, data: canonical }] }),
        );
      }),
      { numRuns: 1500 },
    );
  });
});
