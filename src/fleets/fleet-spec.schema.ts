import {
  type Static,
  type TLiteral,
  type TObject,
  type TOptional,
  type TProperties,
  type TString,
  type TUnion,
  Type,
} from "@sinclair/typebox";
import {
  type DistributionKind,
  METHOD_NAMES,
  type MethodName,
  type MethodSpec,
} from "../forecasting/index.js";
import { SELECTION_METRICS } from "./segment-plan.js";
import { FREQUENCIES, INVALID_VALUE_POLICIES, NA_POLICIES } from "./series-loader.js";

/**
 * The fleet spec as written (YAML or JSON), in TypeBox: one schema validates specs from files, from the CLI
 * and from the HTTP API, types the parser (`Static`), carries the static defaults, and documents the body of
 * `POST …/fleets` in OpenAPI. docs/reference/fleet-spec.md describes every field.
 *
 * The annotations also word the error messages (spec-issues.ts): `title` names a value ("frequency",
 * "fleet name"), `description` explains a pattern or what an object or list holds.
 */

export const DISTRIBUTION_KINDS: readonly DistributionKind[] = [
  "auto",
  "analytic",
  "negbin",
  "poisson",
  "empirical",
];

/** fev's and GluonTS's levels, written out so that 0.3 is 0.3 and not 0.30000000000000004. */
export const DEFAULT_QUANTILES: readonly number[] = Object.freeze([
  0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
]);

/** Error, trend (optionally damped) and season letters; which combinations work is checked after the schema. */
export const ETS_MODEL_PATTERN = "^([AMZ])([NAMZ])(d?)([NAMZ])$";

function oneOf<T extends string>(
  values: readonly T[],
  title: string,
  extra: object = {},
): TUnion<TLiteral<T>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    { title, ...extra },
  );
}

const NAME_RULES = "letters, digits, '.', '_', '-'; starting with a letter or digit; at most 100";
const FleetName = Type.String({
  pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
  title: "fleet name",
  description: NAME_RULES,
});
const ProjectName = Type.String({
  pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
  title: "project name",
  description: NAME_RULES,
  default: "default",
});
const CandidateName = Type.String({
  pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
  title: "candidate name",
  description: "letters, digits, '.', '_', '-'; at most 64",
});
// Not blank and no NUL characters (which PostgreSQL text cannot hold); linear, whatever the string.
const NOT_BLANK = "^(?=[\\s\\S]*\\S)[^\\u0000]*$";
const columnName = (options: { default?: string; description?: string } = {}) =>
  Type.Optional(
    Type.String({
      minLength: 1,
      pattern: NOT_BLANK,
      title: "column name",
      description: "not blank",
      ...options,
    }),
  );

const Unit = Type.Number({ exclusiveMinimum: 0, maximum: 1 });
const UnitOrZero = Type.Number({ minimum: 0, maximum: 1 });

/** Mirrors the forecasting library's option checks (model.ts), so a valid spec never fails INVALID_OPTIONS. */
const METHOD_PARAMETERS = {
  naive: {},
  snaive: {},
  mean: {},
  theta: {},
  ses: { alpha: Unit },
  holt: { alpha: Unit, beta: Unit },
  "damped-holt": { alpha: Unit, beta: Unit, phi: Unit },
  "hw-additive": { damped: Type.Boolean() },
  "hw-multiplicative": { damped: Type.Boolean() },
  ets: {
    model: Type.String({
      pattern: ETS_MODEL_PATTERN,
      title: "ETS model",
      description:
        'three letters error (A, M, Z), trend (N, A, Z, optionally followed by d) and season (N, A, M, Z), e.g. "ZZZ" or "AAdN"',
      default: "ZZZ",
    }),
    damped: Type.Boolean(),
    alpha: Unit,
    beta: Unit,
    gamma: UnitOrZero,
    phi: Unit,
    ic: oneOf(["aicc", "aic", "bic"], "information criterion"),
    criterion: oneOf(["lik", "mse", "amse", "sigma", "mae"], "estimation criterion"),
    additiveOnly: Type.Boolean(),
  },
  croston: { alpha: Unit },
  sba: { alpha: Unit },
  tsb: { alpha: Unit, beta: Unit },
  adida: { aggregation: Type.Integer({ minimum: 1, maximum: 1000 }) },
} satisfies Record<MethodName, TProperties>;

// The schema's parameters are exactly the library's options, checked by the compiler.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
type ParametersMatch = {
  [M in MethodName]: SameKeys<
    Static<TObject<(typeof METHOD_PARAMETERS)[M]>>,
    Omit<Extract<MethodSpec, { method: M }>, "method">
  >;
};
const parametersMatch: { [M in MethodName]: true } = {} as ParametersMatch;
void parametersMatch;

const Method = oneOf(METHOD_NAMES, "method");
const Distribution = oneOf(DISTRIBUTION_KINDS, "distribution", {
  description: "auto: negbin for croston, sba, tsb and adida, analytic otherwise",
  default: "auto",
});

/** A candidate or baseline written as an object (`name` only for candidates). */
type MethodFormSchema = TObject<{
  name: TOptional<TString>;
  method: TLiteral<MethodName>;
  params: TOptional<TObject<TProperties>>;
  distribution: TOptional<typeof Distribution>;
}>;
export type MethodForm = Static<MethodFormSchema>;

/** `{ method, params?, distribution? }`, one object per method so that its parameters are its own. */
function methodForm(method: MethodName, named: boolean): MethodFormSchema {
  return Type.Object(
    {
      ...(named && { name: Type.Optional(CandidateName) }),
      method: Type.Literal(method),
      params: Type.Optional(
        Type.Partial(
          Type.Object(METHOD_PARAMETERS[method] as TProperties, {
            additionalProperties: false,
            title: `parameters for ${method}`,
          }),
        ),
      ),
      distribution: Type.Optional(Distribution),
    },
    { additionalProperties: false },
  ) as unknown as MethodFormSchema;
}

const Candidate = Type.Union([Method, ...METHOD_NAMES.map((m) => methodForm(m, true))], {
  description: "a method name, or { name?, method, params?, distribution? }",
});

const Baseline = Type.Union([Type.String(), ...METHOD_NAMES.map((m) => methodForm(m, false))], {
  description: "a candidate's name, a method name, or { method, params?, distribution? }",
  default: "snaive",
});

const Columns = Type.Object(
  {
    series: columnName({ default: "series_id" }),
    period: columnName({ description: "integer period indexes; default period_index" }),
    timestamp: columnName({ description: "ISO dates, instead of period" }),
    value: columnName({ default: "value" }),
  },
  { additionalProperties: false, default: {} },
);

const Dataset = Type.Object(
  {
    // Relative to the spec file's folder.
    path: Type.String({
      pattern: NOT_BLANK,
      title: "file path",
      description: "not blank, no NUL characters",
    }),
    columns: Type.Optional(Columns),
    na: Type.Optional(oneOf(NA_POLICIES, "NA policy", { default: "error" })),
    invalidValues: Type.Optional(
      oneOf(INVALID_VALUE_POLICIES, "invalid-value policy", { default: "reject" }),
    ),
    minLength: Type.Optional(Type.Integer({ minimum: 2, maximum: 1_000_000 })),
  },
  {
    additionalProperties: false,
    description: "the series, as { path: <CSV file>, columns?, na?, invalidValues?, minLength? }",
  },
);

const Validation = Type.Object(
  {
    scheme: Type.Optional(oneOf(["holdout", "rolling"], "scheme", { default: "holdout" })),
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "default: horizon" })),
    origins: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: "rolling only" })),
    step: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "rolling only; default 1" })),
  },
  { additionalProperties: false },
);

export const FleetSpecSchema = Type.Object(
  {
    name: FleetName,
    project: Type.Optional(ProjectName),
    description: Type.Optional(Type.String()),
    dataset: Dataset,
    frequency: oneOf(FREQUENCIES, "frequency"),
    period: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: "default: from frequency" }),
    ),
    horizon: Type.Integer({ minimum: 1, maximum: 1000 }),
    candidates: Type.Array(Candidate, {
      minItems: 1,
      maxItems: 50,
      title: "candidates",
      description: "a list of methods to compare",
    }),
    validation: Type.Optional(Validation),
    selection: Type.Optional(
      Type.Object(
        { metric: Type.Optional(oneOf(SELECTION_METRICS, "metric", { default: "wql" })) },
        { additionalProperties: false, default: {} },
      ),
    ),
    gate: Type.Optional(
      Type.Object(
        {
          baseline: Type.Optional(Baseline),
          metric: Type.Optional(
            oneOf(SELECTION_METRICS, "metric", { description: "default: selection.metric" }),
          ),
          minImprovementPct: Type.Optional(
            Type.Number({
              exclusiveMinimum: -100,
              exclusiveMaximum: 100,
              default: 0,
              description: "percent",
            }),
          ),
        },
        { additionalProperties: false, default: {} },
      ),
    ),
    quantiles: Type.Optional(
      Type.Array(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }), {
        minItems: 1,
        maxItems: 99,
        title: "levels",
        description: "strictly increasing",
        default: DEFAULT_QUANTILES,
      }),
    ),
    holdout: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 0 })),
    output: Type.Optional(
      Type.Object(
        {
          register: Type.Optional(Type.Boolean({ default: true })),
          champion: Type.Optional(Type.Boolean({ description: "default: register" })),
          atomic: Type.Optional(Type.Boolean({ default: false })),
        },
        { additionalProperties: false, default: {} },
      ),
    ),
  },
  { additionalProperties: false, description: "a fleet spec (docs/reference/fleet-spec.md)" },
);

/** A spec as written, once it passed the schema. */
export type FleetSpecDocument = Static<typeof FleetSpecSchema>;
