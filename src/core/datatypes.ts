/**
 * Tensor datatypes of the Open Inference Protocol v2, shared by model signatures (registry) and the inference
 * protocol so that a registered signature and a served model speak the same names.
 */
export const DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
] as const;

export type Datatype = (typeof DATATYPES)[number];

/** Datatypes whose elements are integers. */
export const INTEGER_DATATYPES: ReadonlySet<Datatype> = new Set<Datatype>(
  DATATYPES.filter((d) => d.startsWith("INT") || d.startsWith("UINT")),
);

/** Datatypes whose elements are numbers (integers and floats; not BOOL or BYTES). */
export const NUMERIC_DATATYPES: ReadonlySet<Datatype> = new Set<Datatype>(
  DATATYPES.filter((d) => d !== "BOOL" && d !== "BYTES"),
);
