import { type Attribute, type Dimension, encodeModel, ONNX_ML_DOMAIN } from "./onnx-writer.js";

/**
 * Small ONNX models the project builds itself for tests and benchmarks: nothing is downloaded, and a seed
 * reproduces the same bytes and weights anywhere. Each builder has a pure-TypeScript reference evaluator so
 * tests can check onnxruntime's answer rather than trust it.
 */

export const TEST_MODEL_INPUT = "input";
export const TEST_MODEL_OUTPUT = "output";
/** The symbolic batch dimension, so one model serves any batch size (OIP v2 reports it as -1). */
export const BATCH_DIMENSION = "batch";

const PRODUCER = "skala";

export interface LinearSpec {
  inputs: number;
  outputs: number;
  seed: number;
}

export interface MlpSpec {
  inputs: number;
  hidden: number;
  outputs: number;
  seed: number;
}

export interface TreeEnsembleSpec {
  features: number;
  trees: number;
  /** Every tree is complete: `2^depth` leaves, `2^depth - 1` splits. */
  depth: number;
  seed: number;
}

export type TestModelSpec =
  | ({ kind: "linear" } & LinearSpec)
  | ({ kind: "mlp" } & MlpSpec)
  | ({ kind: "tree-ensemble" } & TreeEnsembleSpec);

export interface TestModelSignature {
  input: { name: string; elemType: "float"; shape: [string, number] };
  output: { name: string; elemType: "float"; shape: [string, number] };
}

/**
 * A deterministic PRNG (mulberry32): tiny, fast and good enough for weights; `Math.random` cannot be seeded.
 * The seed is mixed first so that neighbouring seeds (0, 1, 2…) give unrelated streams.
 */
export function seededRandom(seed: number): () => number {
  // Both 32-bit halves of a safe-integer seed count, so seeds 1 and 2^32 + 1 differ.
  const low = (seed % 2 ** 32) >>> 0;
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  let state = mix32(low ^ mix32(high ^ 0x9e3779b9));
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The murmur3 finaliser: spreads every input bit over the whole word. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** `count` float32 values uniform in [-scale, scale). */
function uniform(random: () => number, count: number, scale: number): Float32Array {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = (random() * 2 - 1) * scale;
  return values;
}

function requirePositiveInteger(label: string, value: number, max = 1_000_000): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${label} must be an integer in [1, ${max}], got ${value}`);
  }
}

function requireSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
}

/** A random input batch in [-1, 1), row-major [batch, features]. */
export function randomInput(features: number, batch: number, seed: number): Float32Array {
  return uniform(seededRandom(seed), features * batch, 1);
}

// ── linear ─────────────────────────────────────────────────────────────────────────────────────────────

interface DenseLayer {
  /** Row-major [inputs, outputs], the layout MatMul and Gemm (transB = 0) expect. */
  weights: Float32Array;
  bias: Float32Array;
  inputs: number;
  outputs: number;
}

function denseLayer(random: () => number, inputs: number, outputs: number): DenseLayer {
  // Scaled by 1/√fan-in so outputs stay near 1 whatever the width, which keeps float32 error far below 1e-5.
  const scale = 1 / Math.sqrt(inputs);
  return {
    weights: uniform(random, inputs * outputs, scale),
    bias: uniform(random, outputs, scale),
    inputs,
    outputs,
  };
}

function linearParameters(spec: LinearSpec): DenseLayer {
  requirePositiveInteger("inputs", spec.inputs);
  requirePositiveInteger("outputs", spec.outputs);
  requireSeed(spec.seed);
  return denseLayer(seededRandom(spec.seed), spec.inputs, spec.outputs);
}

/**
 * `output = input · W + b` as MatMul + Add.
 *
 * @example
 * const bytes = linearModel({ inputs: 4, outputs: 2, seed: 1 });
 * const session = await InferenceSession.create(bytes);
 */
export function linearModel(spec: LinearSpec): Uint8Array {
  const layer = linearParameters(spec);
  return encodeModel({
    producerName: PRODUCER,
    metadata: { "skala.test_model": JSON.stringify({ kind: "linear", ...spec }) },
    graph: {
      name: `linear_${spec.inputs}x${spec.outputs}_seed${spec.seed}`,
      nodes: [
        { opType: "MatMul", name: "matmul", inputs: [TEST_MODEL_INPUT, "W"], outputs: ["xw"] },
        { opType: "Add", name: "add", inputs: ["xw", "B"], outputs: [TEST_MODEL_OUTPUT] },
      ],
      initializers: [
        { name: "W", dims: [spec.inputs, spec.outputs], dataType: "float", data: layer.weights },
        { name: "B", dims: [spec.outputs], dataType: "float", data: layer.bias },
      ],
      inputs: [tensorInfo(TEST_MODEL_INPUT, spec.inputs)],
      outputs: [tensorInfo(TEST_MODEL_OUTPUT, spec.outputs)],
    },
  });
}

/** What {@link linearModel} computes, in float64 then rounded to float32. */
export function evaluateLinear(spec: LinearSpec, input: Float32Array): Float32Array {
  return applyDense(linearParameters(spec), input, false);
}

// ── MLP ────────────────────────────────────────────────────────────────────────────────────────────────

function mlpParameters(spec: MlpSpec): [DenseLayer, DenseLayer] {
  requirePositiveInteger("inputs", spec.inputs);
  requirePositiveInteger("hidden", spec.hidden);
  requirePositiveInteger("outputs", spec.outputs);
  requireSeed(spec.seed);
  const random = seededRandom(spec.seed);
  return [denseLayer(random, spec.inputs, spec.hidden), denseLayer(random, spec.hidden, spec.outputs)];
}

/** One hidden layer: Gemm → Relu → Gemm. */
export function mlpModel(spec: MlpSpec): Uint8Array {
  const [first, second] = mlpParameters(spec);
  return encodeModel({
    producerName: PRODUCER,
    metadata: { "skala.test_model": JSON.stringify({ kind: "mlp", ...spec }) },
    graph: {
      name: `mlp_${spec.inputs}x${spec.hidden}x${spec.outputs}_seed${spec.seed}`,
      nodes: [
        { opType: "Gemm", name: "dense1", inputs: [TEST_MODEL_INPUT, "W1", "B1"], outputs: ["h"] },
        { opType: "Relu", name: "relu", inputs: ["h"], outputs: ["a"] },
        { opType: "Gemm", name: "dense2", inputs: ["a", "W2", "B2"], outputs: [TEST_MODEL_OUTPUT] },
      ],
      initializers: [
        { name: "W1", dims: [spec.inputs, spec.hidden], dataType: "float", data: first.weights },
        { name: "B1", dims: [spec.hidden], dataType: "float", data: first.bias },
        { name: "W2", dims: [spec.hidden, spec.outputs], dataType: "float", data: second.weights },
        { name: "B2", dims: [spec.outputs], dataType: "float", data: second.bias },
      ],
      inputs: [tensorInfo(TEST_MODEL_INPUT, spec.inputs)],
      outputs: [tensorInfo(TEST_MODEL_OUTPUT, spec.outputs)],
    },
  });
}

/** What {@link mlpModel} computes. */
export function evaluateMlp(spec: MlpSpec, input: Float32Array): Float32Array {
  const [first, second] = mlpParameters(spec);
  return applyDense(second, applyDense(first, input, true), false);
}

function applyDense(layer: DenseLayer, input: Float32Array, relu: boolean): Float32Array {
  const batch = rowsOf(input, layer.inputs);
  const output = new Float32Array(batch * layer.outputs);
  for (let row = 0; row < batch; row++) {
    for (let j = 0; j < layer.outputs; j++) {
      let sum = layer.bias[j] as number;
      for (let k = 0; k < layer.inputs; k++) {
        sum += (input[row * layer.inputs + k] as number) * (layer.weights[k * layer.outputs + j] as number);
      }
      output[row * layer.outputs + j] = relu && sum < 0 ? 0 : sum;
    }
  }
  return output;
}

// ── tree ensemble ──────────────────────────────────────────────────────────────────────────────────────

const MAX_TREE_DEPTH = 16;

interface TreeEnsembleParameters {
  /** Per tree, heap-ordered splits: node i branches to 2i+1 (x ≤ threshold) or 2i+2. */
  featureIds: Int32Array[];
  thresholds: Float32Array[];
  /** Per tree, leaf weights in heap order (leaf k is node 2^depth − 1 + k). */
  leafWeights: Float32Array[];
  baseValue: number;
}

function treeEnsembleParameters(spec: TreeEnsembleSpec): TreeEnsembleParameters {
  requirePositiveInteger("features", spec.features);
  requirePositiveInteger("trees", spec.trees, 100_000);
  requirePositiveInteger("depth", spec.depth, MAX_TREE_DEPTH);
  requireSeed(spec.seed);
  const random = seededRandom(spec.seed);
  const splits = 2 ** spec.depth - 1;
  const featureIds: Int32Array[] = [];
  const thresholds: Float32Array[] = [];
  const leafWeights: Float32Array[] = [];
  for (let t = 0; t < spec.trees; t++) {
    const features = new Int32Array(splits);
    const cuts = new Float32Array(splits);
    // Each split cuts inside the interval its path leaves for that feature (starting from the input range
    // [-1, 1)), as a trained tree's would: no leaf is unreachable and both sides of every split get data.
    const lower = new Float64Array(spec.features).fill(-1);
    const upper = new Float64Array(spec.features).fill(1);
    const grow = (node: number): void => {
      if (node >= splits) return;
      const feature = Math.floor(random() * spec.features);
      const lo = lower[feature] as number;
      const hi = upper[feature] as number;
      const cut = Math.fround(lo + (hi - lo) * (0.2 + 0.6 * random()));
      features[node] = feature;
      cuts[node] = cut;
      upper[feature] = cut;
      grow(2 * node + 1);
      upper[feature] = hi;
      lower[feature] = cut;
      grow(2 * node + 2);
      lower[feature] = lo;
    };
    grow(0);
    featureIds.push(features);
    thresholds.push(cuts);
    leafWeights.push(uniform(random, splits + 1, 1 / spec.trees));
  }
  return { featureIds, thresholds, leafWeights, baseValue: Math.fround(random() - 0.5) };
}

/**
 * `trees` complete binary trees summed (ai.onnx.ml TreeEnsembleRegressor, opset 3), output [batch, 1].
 * Leaf weights are scaled by 1/trees so the output stays near 1 whatever the ensemble size.
 */
export function treeEnsembleModel(spec: TreeEnsembleSpec): Uint8Array {
  const params = treeEnsembleParameters(spec);
  const nodesPerTree = 2 ** (spec.depth + 1) - 1;
  const splits = 2 ** spec.depth - 1;
  const total = spec.trees * nodesPerTree;
  const treeIds = new Int32Array(total);
  const nodeIds = new Int32Array(total);
  const featureIds = new Int32Array(total);
  const values = new Float32Array(total);
  const trueIds = new Int32Array(total);
  const falseIds = new Int32Array(total);
  const modes: string[] = new Array<string>(total);
  const leaves = spec.trees * (splits + 1);
  const targetTreeIds = new Int32Array(leaves);
  const targetNodeIds = new Int32Array(leaves);
  const targetWeights = new Float32Array(leaves);
  let n = 0;
  let leaf = 0;
  for (let t = 0; t < spec.trees; t++) {
    for (let i = 0; i < nodesPerTree; i++, n++) {
      treeIds[n] = t;
      nodeIds[n] = i;
      if (i < splits) {
        modes[n] = "BRANCH_LEQ";
        featureIds[n] = params.featureIds[t]?.[i] as number;
        values[n] = params.thresholds[t]?.[i] as number;
        trueIds[n] = 2 * i + 1;
        falseIds[n] = 2 * i + 2;
      } else {
        modes[n] = "LEAF";
        targetTreeIds[leaf] = t;
        targetNodeIds[leaf] = i;
        targetWeights[leaf] = params.leafWeights[t]?.[i - splits] as number;
        leaf++;
      }
    }
  }
  const attributes: Attribute[] = [
    { name: "aggregate_function", type: "string", value: "SUM" },
    { name: "base_values", type: "floats", value: [params.baseValue] },
    { name: "n_targets", type: "int", value: 1 },
    { name: "nodes_falsenodeids", type: "ints", value: falseIds },
    { name: "nodes_featureids", type: "ints", value: featureIds },
    { name: "nodes_modes", type: "strings", value: modes },
    { name: "nodes_nodeids", type: "ints", value: nodeIds },
    { name: "nodes_treeids", type: "ints", value: treeIds },
    { name: "nodes_truenodeids", type: "ints", value: trueIds },
    { name: "nodes_values", type: "floats", value: values },
    { name: "post_transform", type: "string", value: "NONE" },
    { name: "target_ids", type: "ints", value: new Int32Array(leaves) },
    { name: "target_nodeids", type: "ints", value: targetNodeIds },
    { name: "target_treeids", type: "ints", value: targetTreeIds },
    { name: "target_weights", type: "floats", value: targetWeights },
  ];
  return encodeModel({
    producerName: PRODUCER,
    opsetImports: [
      { domain: "", version: 17 },
      { domain: ONNX_ML_DOMAIN, version: 3 },
    ],
    metadata: { "skala.test_model": JSON.stringify({ kind: "tree-ensemble", ...spec }) },
    graph: {
      name: `trees_${spec.features}f_${spec.trees}t_d${spec.depth}_seed${spec.seed}`,
      nodes: [
        {
          opType: "TreeEnsembleRegressor",
          domain: ONNX_ML_DOMAIN,
          name: "trees",
          inputs: [TEST_MODEL_INPUT],
          outputs: [TEST_MODEL_OUTPUT],
          attributes,
        },
      ],
      inputs: [tensorInfo(TEST_MODEL_INPUT, spec.features)],
      outputs: [tensorInfo(TEST_MODEL_OUTPUT, 1)],
    },
  });
}

/** What {@link treeEnsembleModel} computes: float32 comparisons, as onnxruntime makes them. */
export function evaluateTreeEnsemble(spec: TreeEnsembleSpec, input: Float32Array): Float32Array {
  const params = treeEnsembleParameters(spec);
  const batch = rowsOf(input, spec.features);
  const splits = 2 ** spec.depth - 1;
  const output = new Float32Array(batch);
  for (let row = 0; row < batch; row++) {
    let sum = params.baseValue;
    for (let t = 0; t < spec.trees; t++) {
      const features = params.featureIds[t] as Int32Array;
      const thresholds = params.thresholds[t] as Float32Array;
      let node = 0;
      while (node < splits) {
        const x = input[row * spec.features + (features[node] as number)] as number;
        node = x <= (thresholds[node] as number) ? 2 * node + 1 : 2 * node + 2;
      }
      sum += params.leafWeights[t]?.[node - splits] as number;
    }
    output[row] = sum;
  }
  return output;
}

// ── generic ────────────────────────────────────────────────────────────────────────────────────────────

/** Builds any test model from its spec. */
export function buildTestModel(spec: TestModelSpec): Uint8Array {
  switch (spec.kind) {
    case "linear":
      return linearModel(spec);
    case "mlp":
      return mlpModel(spec);
    case "tree-ensemble":
      return treeEnsembleModel(spec);
    default: {
      const unhandled: never = spec;
      throw new Error(`unknown test model ${JSON.stringify(unhandled)}`);
    }
  }
}

/** The expected output for `input` (row-major [batch, inputs]), row-major [batch, outputs]. */
export function referenceOutput(spec: TestModelSpec, input: Float32Array): Float32Array {
  switch (spec.kind) {
    case "linear":
      return evaluateLinear(spec, input);
    case "mlp":
      return evaluateMlp(spec, input);
    case "tree-ensemble":
      return evaluateTreeEnsemble(spec, input);
    default: {
      const unhandled: never = spec;
      throw new Error(`unknown test model ${JSON.stringify(unhandled)}`);
    }
  }
}

/** The input and output a test model declares, e.g. input [batch, 4] → output [batch, 2]. */
export function testModelSignature(spec: TestModelSpec): TestModelSignature {
  const inputs = spec.kind === "tree-ensemble" ? spec.features : spec.inputs;
  const outputs = spec.kind === "tree-ensemble" ? 1 : spec.outputs;
  return {
    input: { name: TEST_MODEL_INPUT, elemType: "float", shape: [BATCH_DIMENSION, inputs] },
    output: { name: TEST_MODEL_OUTPUT, elemType: "float", shape: [BATCH_DIMENSION, outputs] },
  };
}

function tensorInfo(name: string, width: number): { name: string; elemType: "float"; shape: Dimension[] } {
  return { name, elemType: "float", shape: [BATCH_DIMENSION, width] };
}

function rowsOf(input: Float32Array, width: number): number {
  if (input.length % width !== 0) {
    throw new RangeError(`input of ${input.length} values is not a whole number of rows of ${width}`);
  }
  return input.length / width;
}
