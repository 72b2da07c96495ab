import { type Datatype, NUMERIC_DATATYPES, type ValidationIssue, validationError } from "../core/index.js";
import type { ColumnSchema } from "../registry/index.js";
import type { ModelMetadata } from "../serving/index.js";

/**
 * Which CSV columns feed which model input, and which columns the output file gets: decided once, at submit,
 * from the model's metadata and the dataset's profiled columns, so a job never starts on a mapping that
 * cannot work. Pure.
 */

/** What a scoring job does with a row holding a missing or non-numeric value. */
export type InvalidRowPolicy = "fail" | "skip";

/** One model input and the columns that feed it, in order. */
export interface ScoringInput {
  name: string;
  datatype: Datatype;
  columns: string[];
  /** The input's shape after the batch dimension: `[]` for `[-1]`, `[k]` for `[-1, k]`. */
  rowShape: number[];
}

/** One model output; `width` elements per row, or null when the model's metadata leaves it variable. */
export interface ScoringOutput {
  name: string;
  width: number | null;
}

export interface ColumnPlan {
  inputs: ScoringInput[];
  passthrough: string[];
  outputs: ScoringOutput[];
}

export interface PlanColumnsInput {
  metadata: Pick<ModelMetadata, "inputs" | "outputs">;
  schema: readonly ColumnSchema[];
  /** Input name → CSV column names; inputs left out get the defaults (see planColumns). */
  columns?: Readonly<Record<string, readonly string[]>>;
  passthrough?: readonly string[];
  onInvalidRow: InvalidRowPolicy;
}

const NUMERIC_COLUMN_TYPES: ReadonlySet<ColumnSchema["type"]> = new Set(["integer", "number"]);

/** The output file's column names of one output: `<output>` for width 1, `<output>_<i>` otherwise. */
export function outputColumnNames(output: { name: string }, width: number): string[] {
  return width === 1 ? [output.name] : Array.from({ length: width }, (_, i) => `${output.name}_${i}`);
}

/** Elements per row of a metadata shape after the batch dimension; null when a dimension is variable. */
function widthOf(shape: readonly number[]): number | null {
  let width = 1;
  for (const dim of shape.slice(1)) {
    if (dim < 0) return null;
    width *= dim;
  }
  return width;
}

/**
 * Resolves the column plan or throws VALIDATION_FAILED with every problem found. Defaults when an input is
 * not in `columns`: a model with one input of shape `[-1, k]` takes the dataset's k numeric columns in file
 * order, passthrough columns excluded (there must be exactly k; any number when k is variable), or the column
 * named like the input when it has one element per row and such a column exists; with several inputs, each
 * of shape `[-1]` or `[-1, 1]`, each takes the column named like it.
 *
 * @example
 * const plan = planColumns({ metadata, schema: datasetVersion.schema, passthrough: ["id"], onInvalidRow: "fail" });
 * // plan.inputs[0].columns → ["x1", "x2", "x3", "x4"]
 */
export function planColumns(input: PlanColumnsInput): ColumnPlan {
  const issues: ValidationIssue[] = [];
  const byName = new Map(input.schema.map((c) => [c.name, c]));
  const passthrough = [...(input.passthrough ?? [])];
  const seenPassthrough = new Set<string>();
  passthrough.forEach((name, i) => {
    if (!byName.has(name)) {
      issues.push({ path: `/passthrough/${i}`, message: `the dataset has no column "${name}"` });
    } else if (seenPassthrough.has(name)) {
      issues.push({ path: `/passthrough/${i}`, message: `column "${name}" is listed twice` });
    }
    seenPassthrough.add(name);
  });
  const known = new Set(input.metadata.inputs.map((i) => i.name));
  for (const name of Object.keys(input.columns ?? {})) {
    if (!known.has(name)) {
      issues.push({
        path: `/columns/${name}`,
        message: `the model has no input "${name}" (it has ${[...known].map((n) => `"${n}"`).join(", ")})`,
      });
    }
  }

  const inputs: ScoringInput[] = [];
  const single = input.metadata.inputs.length === 1;
  for (const tensor of input.metadata.inputs) {
    const path = `/columns/${tensor.name}`;
    const what = `input "${tensor.name}" (${tensor.datatype} ${JSON.stringify(tensor.shape)})`;
    if (!NUMERIC_DATATYPES.has(tensor.datatype)) {
      issues.push({ path, message: `${what}: only numeric inputs can be fed from CSV columns` });
      continue;
    }
    const [batch, features] = tensor.shape;
    if (tensor.shape.length < 1 || tensor.shape.length > 2 || batch !== -1) {
      issues.push({
        path,
        message: `${what}: batch scoring sends one row per CSV line, so the input must have shape [-1] or [-1, k]`,
      });
      continue;
    }
    // Elements per row: 1 for [-1]; k for [-1, k]; null (any) for [-1, -1].
    const width = features === undefined ? 1 : features < 0 ? null : features;
    if (width === 0) {
      issues.push({ path, message: `${what}: an input with no elements per row cannot be fed` });
      continue;
    }
    let columns: string[];
    const given = input.columns?.[tensor.name];
    if (given !== undefined) {
      columns = [...given];
    } else if (width === 1 && byName.has(tensor.name) && !seenPassthrough.has(tensor.name)) {
      columns = [tensor.name];
    } else if (single) {
      columns = input.schema
        .filter((c) => NUMERIC_COLUMN_TYPES.has(c.type) && !seenPassthrough.has(c.name))
        .map((c) => c.name);
      if (width !== null && columns.length !== width) {
        issues.push({
          path,
          message:
            `${what} takes ${width} column${width === 1 ? "" : "s"} but the dataset has ${columns.length} numeric ` +
            `column${columns.length === 1 ? "" : "s"} besides the passthrough ones` +
            `${columns.length > 0 ? ` (${columns.join(", ")})` : ""}; name them with columns.${tensor.name}`,
        });
        continue;
      }
    } else {
      issues.push({
        path,
        message:
          width === 1
            ? `${what}: the dataset has no column "${tensor.name}"; name the column with columns.${tensor.name}`
            : `${what} needs ${width ?? "several"} columns: name them with columns.${tensor.name}`,
      });
      continue;
    }
    if (columns.length === 0) {
      issues.push({ path, message: `${what}: no columns to feed it` });
      continue;
    }
    if (width !== null && columns.length !== width) {
      issues.push({
        path,
        message: `${what} takes ${width} column${width === 1 ? "" : "s"} per row, ${columns.length} given`,
      });
    }
    const seen = new Set<string>();
    columns.forEach((name, i) => {
      const column = byName.get(name);
      if (column === undefined) {
        issues.push({ path: `${path}/${i}`, message: `the dataset has no column "${name}"` });
      } else if (seen.has(name)) {
        issues.push({ path: `${path}/${i}`, message: `column "${name}" is listed twice` });
      } else if (input.onInvalidRow === "fail" && !NUMERIC_COLUMN_TYPES.has(column.type)) {
        // Profiled as text, dates, booleans or all-missing: the first row would fail the job anyway.
        issues.push({
          path: `${path}/${i}`,
          message:
            column.type === "empty"
              ? `column "${name}" has no values`
              : `column "${name}" holds ${column.type} values, not numbers (onInvalidRow "skip" skips the rows that are not numbers)`,
        });
      }
      seen.add(name);
    });
    inputs.push({
      name: tensor.name,
      datatype: tensor.datatype,
      columns,
      rowShape: features === undefined ? [] : [columns.length],
    });
  }

  const outputs: ScoringOutput[] = [];
  const header = new Map<string, string>(passthrough.map((name) => [name, `passthrough column "${name}"`]));
  for (const tensor of input.metadata.outputs) {
    if (tensor.shape.length < 1) {
      issues.push({
        path: "/model/outputs",
        message: `output "${tensor.name}" has no batch dimension, so it cannot be split into rows`,
      });
      continue;
    }
    const width = widthOf(tensor.shape);
    outputs.push({ name: tensor.name, width });
    if (width === null) continue;
    for (const column of outputColumnNames(tensor, width)) {
      const taken = header.get(column);
      if (taken !== undefined) {
        issues.push({
          path: "/passthrough",
          message: `the output file would have two columns "${column}": ${taken} and output "${tensor.name}"`,
        });
      }
      header.set(column, `output "${tensor.name}"`);
    }
  }
  if (input.metadata.outputs.length === 0) {
    issues.push({ path: "/model/outputs", message: "the model has no outputs" });
  }
  if (issues.length > 0) throw validationError(issues);
  return { inputs, passthrough, outputs };
}
