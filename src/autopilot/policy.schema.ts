import { type Static, type TLiteral, type TUnion, Type } from "@sinclair/typebox";

/**
 * The policy document as written (YAML or JSON), in TypeBox: one schema validates policies from files, from
 * the CLI and from the HTTP API, types the parser (`Static`), carries the defaults and documents the body of
 * `PUT …/autopilot/policies/{name}` in OpenAPI. src/autopilot/README.md describes every field.
 *
 * Triggers are objects with exactly one of `check`, `schedule`, `newData` (checked after the schema, so that
 * a wrong trigger gets one precise message rather than one per union branch).
 */

function oneOf<T extends string>(values: readonly T[], title: string): TUnion<TLiteral<T>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    { title },
  );
}

export const HEALTH_LEVELS = ["warning", "critical"] as const;
export type HealthLevel = (typeof HEALTH_LEVELS)[number];
/** What a rule may do when it fires; `promote` follows from `evaluate`, `request-approval` from either. */
export const RULE_ACTIONS = ["retrain", "evaluate", "rollback"] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];
export const TESTS = ["dm", "rank"] as const;
export type ComparisonTest = (typeof TESTS)[number];
export const DECIDERS = ["auto", "person"] as const;
export type Decider = (typeof DECIDERS)[number];
/** The actions that are rate-limited per model. */
export const LIMITED_ACTIONS = ["retrain", "promote", "rollback"] as const;
export type LimitedAction = (typeof LIMITED_ACTIONS)[number];

const NAME_RULES = "letters, digits, '.', '_', '-'; starting with a letter or digit; at most 100";
const Name = (title: string, extra: { default?: string } = {}) =>
  Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", title, description: NAME_RULES, ...extra });

const CheckTrigger = Type.Object(
  {
    names: Type.Optional(
      Type.Array(Name("check name"), {
        minItems: 1,
        maxItems: 100,
        title: "check names",
        description: "fires only for these checks; any check when left out",
      }),
    ),
    level: Type.Optional(oneOf(HEALTH_LEVELS, "health level")),
  },
  { additionalProperties: false, title: "check trigger fields" },
);

const ScheduleTrigger = Type.Object(
  { everyMinutes: Type.Integer({ minimum: 1, maximum: 525_600 }) },
  { additionalProperties: false, title: "schedule trigger fields" },
);

const NewDataTrigger = Type.Object(
  { minActuals: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) },
  { additionalProperties: false, title: "new-data trigger fields" },
);

export const Trigger = Type.Object(
  {
    check: Type.Optional(CheckTrigger),
    schedule: Type.Optional(ScheduleTrigger),
    newData: Type.Optional(NewDataTrigger),
  },
  {
    additionalProperties: false,
    title: "trigger fields",
    description: "exactly one of check, schedule, newData",
  },
);

const Rule = Type.Object(
  {
    when: Trigger,
    do: Type.Array(oneOf(RULE_ACTIONS, "action"), {
      minItems: 1,
      maxItems: 3,
      uniqueItems: true,
      title: "actions",
    }),
  },
  { additionalProperties: false, title: "rule fields" },
);

const Evaluate = Type.Object(
  {
    test: oneOf(TESTS, "test"),
    alpha: Type.Number({ exclusiveMinimum: 0, maximum: 0.5, default: 0.05 }),
    /** Forecast horizon of the errors (Diebold–Mariano). */
    h: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000 })),
    /** Power of the loss (1: absolute, 2: squared; Diebold–Mariano). */
    power: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 })),
    /** Smallest effect the rank test counts (rank-biserial correlation, 0 to 1). */
    minEffect: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** Paired errors of both versions needed before a comparison is made. */
    minSamples: Type.Integer({ minimum: 2, maximum: 1_000_000, default: 8 }),
  },
  { additionalProperties: false, title: "evaluate fields" },
);

const Promote = Type.Object(
  {
    /** Relative improvement of the mean absolute error the challenger must show: 0.05 is 5 %. */
    margin: Type.Number({ minimum: 0, maximum: 1 }),
    approval: oneOf(DECIDERS, "decider"),
  },
  { additionalProperties: false, title: "promote fields" },
);

const Rollback = Type.Object(
  {
    /** How long after a promotion the new champion can be rolled back, in hours. */
    probationHours: Type.Number({ exclusiveMinimum: 0, maximum: 8_760 }),
    /** Relative worsening of the mean absolute error, against the error it was promoted on: 0.1 is 10 %. */
    degradation: Type.Number({ minimum: 0, maximum: 100 }),
    approval: oneOf(DECIDERS, "decider"),
  },
  { additionalProperties: false, title: "rollback fields" },
);

const Limit = Type.Object(
  {
    max: Type.Integer({ minimum: 0, maximum: 1_000 }),
    perHours: Type.Number({ exclusiveMinimum: 0, maximum: 8_760 }),
  },
  { additionalProperties: false, title: "limit fields" },
);

export const PolicySchema = Type.Object(
  {
    name: Name("policy name"),
    project: Type.Optional(Name("project name", { default: "default" })),
    /** The fleet whose models the policy covers; every model of the project when left out. */
    fleet: Type.Optional(Name("fleet name")),
    /** The environment the policy acts for; promotions and rollbacks there go to a person when listed in `approval.environments`. */
    environment: Type.Optional(Name("environment name")),
    rules: Type.Array(Rule, { minItems: 1, maxItems: 50, title: "rules" }),
    evaluate: Type.Optional(Evaluate),
    promote: Type.Optional(Promote),
    rollback: Type.Optional(Rollback),
    limits: Type.Optional(
      Type.Object(
        { retrain: Type.Optional(Limit), promote: Type.Optional(Limit), rollback: Type.Optional(Limit) },
        { additionalProperties: false, title: "limited actions" },
      ),
    ),
    approval: Type.Optional(
      Type.Object(
        {
          environments: Type.Array(Name("environment name"), { maxItems: 100, title: "environments" }),
          /** Hours a request waits for a person before it expires. */
          expiresAfterHours: Type.Number({ exclusiveMinimum: 0, maximum: 8_760, default: 72 }),
        },
        { additionalProperties: false, title: "approval fields" },
      ),
    ),
  },
  { additionalProperties: false, title: "policy fields" },
);

export type PolicyDocument = Static<typeof PolicySchema>;
export type TriggerDocument = Static<typeof Trigger>;
