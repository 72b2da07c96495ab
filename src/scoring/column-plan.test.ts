import { describe, expect, it } from "vitest";
import type { SkalaError } from "../core/index.js";
import type { ColumnSchema } from "../registry/index.js";
import { type PlanColumnsInput, planColumns } from "./column-plan.js";

const num = (name: string, type: ColumnSchema["type"] = "number"): ColumnSchema => ({
  name,
  type,
  nullable: false,
});

function issues(input: PlanColumnsInput): string[] {
  try {
    planColumns(input);
  } catch (error) {
    const found = ((error as SkalaError).details?.issues ?? []) as Array<{ message: string }>;
    return found.map((i) => i.message);
  }
  throw new Error("planColumns should have failed");
}

describe("planColumns", () => {
  const outputs = [{ name: "score", datatype: "FP32" as const, shape: [-1] }];

  it("feeds several one-element inputs from the columns named like them, and names outputs by width", () => {
    const plan = planColumns({
      metadata: {
        inputs: [
          { name: "age", datatype: "INT64", shape: [-1] },
          { name: "spend", datatype: "FP64", shape: [-1, 1] },
        ],
        outputs: [...outputs, { name: "probs", datatype: "FP32", shape: [-1, 3] }],
      },
      schema: [num("id", "string"), num("spend"), num("age", "integer")],
      passthrough: ["id"],
      onInvalidRow: "fail",
    });
    expect(plan.inputs).toEqual([
      { name: "age", datatype: "INT64", columns: ["age"], rowShape: [] },
      { name: "spend", datatype: "FP64", columns: ["spend"], rowShape: [1] },
    ]);
    expect(plan.outputs).toEqual([
      { name: "score", width: 1 },
      { name: "probs", width: 3 },
    ]);
  });

  it("takes every numeric column for a [-1, -1] input and leaves a variable output width open", () => {
    const plan = planColumns({
      metadata: {
        inputs: [{ name: "x", datatype: "FP32", shape: [-1, -1] }],
        outputs: [{ name: "y", datatype: "FP32", shape: [-1, -1] }],
      },
      schema: [num("a"), num("b", "string"), num("c", "integer")],
      onInvalidRow: "skip",
    });
    expect(plan.inputs[0]?.columns).toEqual(["a", "c"]);
    expect(plan.inputs[0]?.rowShape).toEqual([2]);
    expect(plan.outputs).toEqual([{ name: "y", width: null }]);
  });

  it("refuses inputs that cannot be fed from CSV rows, and clashing output columns", () => {
    expect(
      issues({
        metadata: {
          inputs: [
            { name: "image", datatype: "FP32", shape: [-1, 3, 3] },
            { name: "text", datatype: "BYTES", shape: [-1] },
            { name: "fixed", datatype: "FP32", shape: [1, 4] },
            { name: "pair", datatype: "FP32", shape: [-1, 2] },
          ],
          outputs,
        },
        schema: [num("text", "string"), num("pair")],
        onInvalidRow: "fail",
      }),
    ).toEqual([
      expect.stringMatching(/input "image" .* must have shape \[-1\] or \[-1, k\]/),
      expect.stringMatching(/input "text" .* only numeric inputs/),
      expect.stringMatching(/input "fixed" .* must have shape/),
      expect.stringMatching(/input "pair" .* needs 2 columns: name them with columns.pair/),
    ]);
    expect(
      issues({
        metadata: { inputs: [{ name: "x", datatype: "FP32", shape: [-1] }], outputs },
        schema: [num("x"), num("score")],
        passthrough: ["score"],
        onInvalidRow: "fail",
      }),
    ).toEqual([expect.stringMatching(/two columns "score"/)]);
  });
});
