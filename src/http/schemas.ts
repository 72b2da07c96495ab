import { type Static, Type } from "@sinclair/typebox";
import { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode } from "../core/index.js";

/**
 * Response shapes the HTTP layer itself owns: the error envelope every `/api` route can answer with, and the
 * operations endpoints. Capability routes declare their success bodies; `buildApp` adds these to every route,
 * so the OpenAPI document and the serializer know the error shape without each route repeating it.
 */

export const ErrorCodeSchema = Type.Unsafe<ErrorCode>({
  type: "string",
  enum: [...ERROR_CODES],
  description: "stable code from the catalogue (docs/reference/errors.md)",
});

export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object(
      {
        code: ErrorCodeSchema,
        message: Type.String({ description: "for people; may change" }),
        details: Type.Optional(
          Type.Record(Type.String(), Type.Unknown(), {
            description: "code-specific; VALIDATION_FAILED holds `issues`, a list of { path, message }",
          }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  {
    title: "ErrorEnvelope",
    additionalProperties: false,
    description:
      "An error: a stable code from the catalogue, a message for people and code-specific details " +
      `(docs/reference/errors.md; ${Object.keys(ERROR_CATALOGUE).length} codes).`,
  },
);
export type ErrorBody = Static<typeof ErrorEnvelope>;

export const Health = Type.Object({ status: Type.Literal("ok") }, { additionalProperties: false });

export const Ready = Type.Object(
  { status: Type.Literal("ready"), database: Type.Union([Type.Literal("sqlite"), Type.Literal("postgres")]) },
  { additionalProperties: false },
);

export const NotReady = Type.Object(
  {
    status: Type.Literal("not ready"),
    reason: Type.String(),
    pending: Type.Optional(Type.Array(Type.String(), { description: "migrations not yet applied" })),
  },
  { additionalProperties: false },
);

export const MetricsText = Type.String({ description: "Prometheus text exposition format 0.0.4" });
