/**
 * Writes the files of examples/quickstart/ (the README's "Using it" and docs/getting-started.md):
 *
 * - model.onnx: next month's demand for a part from its last three months, a weighted moving average
 *   (0.5 · last + 0.3 · the month before + 0.2 · the one before that), as ONNX MatMul + Add;
 * - recent-demand.csv: the last three months of eight parts, the model's input for batch scoring;
 * - demand.csv: three years of monthly demand for six parts, in the long format a fleet trains on.
 *
 * The output is deterministic: running it again rewrites the same bytes. `npx tsx scripts/make-quickstart.ts`
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeModel, seededRandom } from "../src/serving/test-support/onnx-models/index.js";

const OUT = fileURLToPath(new URL("../examples/quickstart/", import.meta.url));

/** Last month first, as the columns of recent-demand.csv. */
export const QUICKSTART_WEIGHTS = [0.5, 0.3, 0.2] as const;

export function quickstartModel(): Uint8Array {
  return encodeModel({
    producerName: "skala",
    docString: "Next month's demand from the last three months: 0.5·lag1 + 0.3·lag2 + 0.2·lag3.",
    metadata: { "skala.example": "quickstart" },
    graph: {
      name: "weighted_moving_average",
      nodes: [
        { opType: "MatMul", name: "weigh", inputs: ["lags", "weights"], outputs: ["weighted"] },
        { opType: "Add", name: "offset", inputs: ["weighted", "bias"], outputs: ["forecast"] },
      ],
      initializers: [
        { name: "weights", dims: [3, 1], dataType: "float", data: Float32Array.from(QUICKSTART_WEIGHTS) },
        { name: "bias", dims: [1], dataType: "float", data: Float32Array.of(0) },
      ],
      inputs: [{ name: "lags", elemType: "float", shape: ["batch", 3] }],
      outputs: [{ name: "forecast", elemType: "float", shape: ["batch", 1] }],
    },
  });
}

const PARTS = ["A12", "A13", "B07", "B21", "C03", "C40"];
const MONTHS = 36;

/** Monthly demand with a level per part, growth, a yearly season peaking in winter, and some noise. */
export function quickstartDemand(): string {
  const random = seededRandom(2024);
  const lines = ["part,month,demand"];
  for (const [p, part] of PARTS.entries()) {
    const level = 20 + 12 * p;
    for (let m = 0; m < MONTHS; m++) {
      const season = 1 + 0.3 * Math.cos((2 * Math.PI * m) / 12);
      const growth = 1 + 0.02 * m;
      const value = Math.max(0, Math.round(level * growth * season * (0.95 + 0.1 * random())));
      const month = `${2023 + Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, "0")}`;
      lines.push(`${part},${month},${value}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The last three months of eight parts: lag1 is last month. */
export function quickstartRecentDemand(): string {
  const rows = [
    ["A12", 12, 10, 8],
    ["A13", 30, 28, 35],
    ["B07", 4, 0, 6],
    ["B21", 51, 47, 44],
    ["C03", 18, 22, 20],
    ["C40", 9, 11, 7],
    ["D15", 0, 0, 1],
    ["D16", 75, 80, 70],
  ];
  return `part,lag1,lag2,lag3\n${rows.map((r) => r.join(",")).join("\n")}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, "model.onnx"), quickstartModel());
  writeFileSync(join(OUT, "demand.csv"), quickstartDemand());
  writeFileSync(join(OUT, "recent-demand.csv"), quickstartRecentDemand());
  process.stdout.write(`wrote model.onnx, demand.csv and recent-demand.csv to ${OUT}\n`);
}
