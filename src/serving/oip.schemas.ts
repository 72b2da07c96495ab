import { Type } from "@sinclair/typebox";
import { DATATYPES } from "../core/index.js";

/**
 * The Open Inference Protocol v2 REST shapes, for the OpenAPI document. They document; they do not validate or
 * serialize: src/serving/protocol/ decodes requests with the protocol's own messages and policies (INT64 as
 * strings, NaN spelled out), and encodes answers exactly, so the /v2 routes keep their own validator and
 * serializer (see oip.routes.ts).
 */

export const ProtocolErrorSchema = Type.Object(
  { error: Type.String({ description: "what went wrong, for people" }) },
  { title: "ProtocolError", additionalProperties: false, description: "Every failed /v2 request" },
);

const Datatype = Type.Union(
  DATATYPES.map((d) => Type.Literal(d)),
  { description: "tensor element type" },
);
const ParametersSchema = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean()]),
  { description: "protocol parameters: string, number or boolean values" },
);
const Shape = Type.Array(Type.Integer({ minimum: -1 }), { description: "-1 marks a variable dimension" });

const TensorData = Type.Array(Type.Unknown(), {
  description:
    "row-major elements, flat or nested as the shape; INT64/UINT64 beyond 2^53 as decimal strings, " +
    'non-finite floats as "NaN", "Infinity", "-Infinity" (docs/reference/inference-protocol.md)',
});

export const InferRequestSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ description: "echoed in the answer; routes a deployment's traffic" })),
    parameters: Type.Optional(ParametersSchema),
    inputs: Type.Array(
      Type.Object({
        name: Type.String(),
        shape: Shape,
        datatype: Datatype,
        parameters: Type.Optional(ParametersSchema),
        data: TensorData,
      }),
      { minItems: 1 },
    ),
    outputs: Type.Optional(
      Type.Array(Type.Object({ name: Type.String(), parameters: Type.Optional(ParametersSchema) }), {
        description: "the outputs to return; default all",
      }),
    ),
  },
  { title: "InferRequest" },
);

export const InferResponseSchema = Type.Object(
  {
    model_name: Type.String(),
    model_version: Type.Optional(Type.String({ description: "the version that answered" })),
    id: Type.Optional(Type.String()),
    parameters: Type.Optional(ParametersSchema),
    outputs: Type.Array(
      Type.Object({
        name: Type.String(),
        shape: Shape,
        datatype: Datatype,
        parameters: Type.Optional(ParametersSchema),
        data: Type.Array(Type.Unknown(), { description: "flat, row-major" }),
      }),
    ),
  },
  { title: "InferResponse" },
);

const TensorMetadataSchema = Type.Object({ name: Type.String(), datatype: Datatype, shape: Shape });

export const ServerMetadataSchema = Type.Object(
  {
    name: Type.String(),
    version: Type.String(),
    extensions: Type.Array(Type.String(), { description: "only what is implemented" }),
  },
  { title: "ServerMetadata" },
);

export const ModelMetadataSchema = Type.Object(
  {
    name: Type.String(),
    versions: Type.Optional(Type.Array(Type.String())),
    platform: Type.String(),
    inputs: Type.Array(TensorMetadataSchema),
    outputs: Type.Array(TensorMetadataSchema),
  },
  { title: "ModelMetadata" },
);

export const LiveSchema = Type.Object({ live: Type.Literal(true) });
export const ReadySchema = Type.Object({ ready: Type.Literal(true) });
export const ModelReadySchema = Type.Object({ name: Type.String(), ready: Type.Literal(true) });

export const RepositoryIndexRequestSchema = Type.Object(
  { ready: Type.Optional(Type.Boolean({ description: "only models ready to answer" })) },
  { additionalProperties: false },
);
export const RepositoryIndexSchema = Type.Array(
  Type.Object({
    name: Type.String(),
    version: Type.Optional(Type.String()),
    state: Type.Union([
      Type.Literal("READY"),
      Type.Literal("LOADING"),
      Type.Literal("UNLOADING"),
      Type.Literal("UNAVAILABLE"),
    ]),
    reason: Type.Optional(Type.String()),
  }),
);
export const RepositoryActionRequestSchema = Type.Object(
  {
    parameters: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: "no load parameter is supported; unload takes `unload_dependents`",
      }),
    ),
  },
  { additionalProperties: false },
);
export const EmptySchema = Type.Object({}, { additionalProperties: false });

export const ModelParamsSchema = Type.Object({ name: Type.String({ description: "registered model name" }) });
export const VersionParamsSchema = Type.Object({
  name: Type.String({ description: "registered model name" }),
  version: Type.String({ description: "version number or alias" }),
});
