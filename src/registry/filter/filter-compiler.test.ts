import fc from "fast-check";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database, Store } from "../../store/index.js";
import { freshStore, testDialects } from "../../store/test-support/dialects.js";
import {
  type ComparisonOperator,
  candidateSizesQuery,
  compileVersionFilter,
  DRIVER_MAX_ROWS,
  drivingCandidates,
  type FilterExpression,
  type FilterField,
  parseFilter,
  planVersionSearch,
  printFilter,
  searchedVersions,
  type VersionSearchPlan,
} from "./index.js";
import { filterArbitrary } from "./test-support/filter-arbitraries.js";

interface FixtureVersion {
  id: string;
  model: "m1" | "m2";
  version: number;
  runtime: string;
  status: string;
  created_at: string;
  run_id: string | null;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  params: Record<string, string>;
}

const MODELS = {
  m1: { name: "carparts-001", fleet: "carparts" },
  m2: { name: "Sales-EU", fleet: null },
} as const;

const VERSIONS: readonly FixtureVersion[] = [
  {
    id: "v1",
    model: "m1",
    version: 1,
    runtime: "onnx",
    status: "ready",
    created_at: "2024-01-01T00:00:00.000Z",
    run_id: "r1",
    metrics: { mase: 0.8, rmse: 10 },
    tags: { segment: "A12" },
    params: { lr: "0.1" },
  },
  {
    id: "v2",
    model: "m1",
    version: 2,
    runtime: "forecast",
    status: "ready",
    created_at: "2024-02-01T00:00:00.000Z",
    run_id: null,
    metrics: { mase: 1.2 },
    tags: { segment: "B7", "my key": "x y" },
    params: {},
  },
  {
    id: "v3",
    model: "m2",
    version: 1,
    runtime: "onnx",
    status: "archived",
    created_at: "2024-03-01T00:00:00.000Z",
    run_id: null,
    metrics: { mase: 0.5, rmse: -3.5 },
    tags: { segment: "a12", note: "100% sure" },
    params: { lr: "0.01" },
  },
  {
    id: "v4",
    model: "m2",
    version: 2,
    runtime: "forecast",
    status: "ready",
    created_at: "2024-04-01T00:00:00.000Z",
    run_id: "r1",
    metrics: {},
    tags: { env: "prod", "quote'key": "it's" },
    params: {},
  },
];

async function insertFixture(db: Kysely<Database>): Promise<void> {
  const now = "2024-01-01T00:00:00.000Z";
  await db
    .insertInto("projects")
    .values({ id: "p1", name: "default", description: "", created_at: now })
    .execute();
  await db.insertInto("blobs").values({ digest: "sha256:aa", size: 1, created_at: now }).execute();
  await db
    .insertInto("runs")
    .values({
      id: "r1",
      project_id: "p1",
      name: "r",
      status: "finished",
      started_at: now,
      ended_at: now,
      source_ref: null,
    })
    .execute();
  for (const [id, model] of Object.entries(MODELS)) {
    await db
      .insertInto("registered_models")
      .values({
        id,
        project_id: "p1",
        name: model.name,
        description: "",
        fleet: model.fleet,
        latest_version: 2,
        archived_at: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
  }
  for (const v of VERSIONS) {
    await db
      .insertInto("model_versions")
      .values({
        id: v.id,
        model_id: v.model,
        version: v.version,
        runtime: v.runtime,
        artifact_digest: "sha256:aa",
        artifact_size: 1,
        signature: "{}",
        status: v.status,
        description: "",
        run_id: v.run_id,
        dataset_version_id: null,
        parent_version_id: null,
        source_ref: null,
        created_at: v.created_at,
      })
      .execute();
    const rows = <T>(entries: Record<string, T>) =>
      Object.entries(entries).map(([key, value]) => ({ version_id: v.id, key, value }));
    if (Object.keys(v.metrics).length > 0)
      await db.insertInto("version_metrics").values(rows(v.metrics)).execute();
    if (Object.keys(v.tags).length > 0) await db.insertInto("version_tags").values(rows(v.tags)).execute();
    if (Object.keys(v.params).length > 0)
      await db.insertInto("version_params").values(rows(v.params)).execute();
  }
}

/** The documented semantics, evaluated in memory, to check the SQL against. */
function fieldValue(v: FixtureVersion, field: FilterField): string | number | null | undefined {
  switch (field.kind) {
    case "metric":
      return v.metrics[field.key];
    case "tag":
      return v.tags[field.key];
    case "param":
      return v.params[field.key];
    case "attribute":
      switch (field.name) {
        case "version":
          return v.version;
        case "model":
          return MODELS[v.model].name;
        case "fleet":
          return MODELS[v.model].fleet;
        case "runtime":
        case "status":
        case "created_at":
        case "run_id":
          return v[field.name];
      }
  }
}

function compareValues(left: string | number, op: ComparisonOperator, right: string | number): boolean {
  switch (op) {
    case "=":
      return left === right;
    case "!=":
      return left !== right;
    case "<":
      return left < right;
    case "<=":
      return left <= right;
    case ">":
      return left > right;
    case ">=":
      return left >= right;
  }
}

const asciiLower = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

function likeMatches(value: string, pattern: string): boolean {
  let regex = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === "\\") regex += (pattern[++i] ?? "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    else if (char === "%") regex += "[\\s\\S]*";
    else if (char === "_") regex += "[\\s\\S]";
    else regex += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${regex}$`).test(asciiLower(value));
}

function evaluate(v: FixtureVersion, node: FilterExpression): boolean {
  switch (node.kind) {
    case "and":
      return node.operands.every((operand) => evaluate(v, operand));
    case "or":
      return node.operands.some((operand) => evaluate(v, operand));
    case "not":
      return !evaluate(v, node.operand);
    case "compare": {
      const value = fieldValue(v, node.field);
      return value !== undefined && value !== null && compareValues(value, node.op, node.value);
    }
    case "in": {
      const value = fieldValue(v, node.field);
      return (
        value !== undefined && value !== null && (node.values as readonly (string | number)[]).includes(value)
      );
    }
    case "like": {
      const value = fieldValue(v, node.field);
      return typeof value === "string" && likeMatches(value, asciiLower(node.pattern));
    }
  }
}

const CASES: Array<[filter: string, expected: string[]]> = [
  ["metrics.mase < 0.9", ["v1", "v3"]],
  ['metrics.mase < 0.9 and tags.segment = "A12"', ["v1"]],
  ["metrics.rmse <= -3.5", ["v3"]],
  ["metrics.mase != 0.8", ["v2", "v3"]],
  ["not metrics.mase != 0.8", ["v1", "v4"]],
  ["metrics.mase in (0.5, 1.2)", ["v2", "v3"]],
  ['tags.segment in ("A12", "B7")', ["v1", "v2"]],
  ['tags.segment != "A12"', ["v2", "v3"]],
  ['tags.segment like "a%"', ["v1", "v3"]],
  ['tags.segment like "_1_"', ["v1", "v3"]],
  [String.raw`tags.note like "%\\%%"`, ["v3"]],
  [String.raw`tags.segment like "%\\%%"`, []],
  ['tags.`my key` = "x y"', ["v2"]],
  [`tags.\`quote'key\` = "it's"`, ["v4"]],
  ['params.lr = "0.1"', ["v1"]],
  ['params.lr like "0.%"', ["v1", "v3"]],
  ["version >= 2", ["v2", "v4"]],
  ["version in (1)", ["v1", "v3"]],
  ['model = "Sales-EU"', ["v3", "v4"]],
  ['model like "sales-%"', ["v3", "v4"]],
  ['fleet = "carparts"', ["v1", "v2"]],
  ['fleet != "carparts"', []],
  ['not fleet = "carparts"', ["v3", "v4"]],
  ['run_id = "r1"', ["v1", "v4"]],
  ['not run_id in ("r1")', ["v2", "v3"]],
  ['created_at >= "2024-02-01" and created_at < "2024-04-01"', ["v2", "v3"]],
  ['runtime = "forecast" or status = "archived" and version = 1', ["v2", "v3", "v4"]],
  ['(runtime = "forecast" or status = "archived") and version = 1', ["v3"]],
  ['status = "ready" and not (tags.env = "prod" or metrics.mase > 1)', ["v1"]],
];

const INJECTIONS = [
  `tags.segment = "' or 1=1 --"`,
  `tags.\`segment' or 1=1 --\` = "A12"`,
  `model like "%' or 1=1 --"`,
  `model = "x\\" or 1=1 --"`,
  `status in ("ready'); drop table model_versions; --")`,
];

describe.each(testDialects())("compileVersionFilter on %s", (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ store, dispose } = await freshStore(dialect));
    await insertFixture(store.db);
  });
  afterAll(async () => {
    await dispose?.();
  });

  const query = (filter: FilterExpression) =>
    store.db
      .selectFrom("model_versions as v")
      .innerJoin("registered_models as m", "m.id", "v.model_id")
      .select("v.id")
      .where(compileVersionFilter(filter))
      .orderBy("v.id");
  const search = async (filter: FilterExpression) => (await query(filter).execute()).map((row) => row.id);

  it.each(CASES)("%s", async (text, expected) => {
    const filter = parseFilter(text);
    expect(await search(filter)).toEqual(expected);
    expect(VERSIONS.filter((v) => evaluate(v, filter)).map((v) => v.id)).toEqual(expected);
  });

  it.each(INJECTIONS)("treats SQL in values as data: %s", async (text) => {
    const filter = parseFilter(text);
    expect(await search(filter)).toEqual([]);
    const compiled = query(filter).compile();
    expect(compiled.sql).not.toMatch(/1=1|drop table/);
    expect(compiled.parameters.some((p) => typeof p === "string" && /1=1|drop table/.test(p))).toBe(true);
    expect(await store.db.selectFrom("model_versions").select("id").execute()).toHaveLength(VERSIONS.length);
  });

  it("reads a backslash-terminated pattern from a hand-built AST as a literal backslash", async () => {
    const filter: FilterExpression = {
      kind: "like",
      field: { kind: "tag", key: "segment" },
      pattern: "A12\\",
    };
    expect(await search(filter)).toEqual([]);
  });

  const strings = [
    "A12",
    "a12",
    "B7",
    "x y",
    "0.1",
    "0.01",
    "onnx",
    "forecast",
    "ready",
    "archived",
    "r1",
    "prod",
  ];
  const extra = [
    "carparts-001",
    "Sales-EU",
    "carparts",
    "it's",
    "100% sure",
    "' or 1=1 --",
    "2024-02-01T00:00:00.000Z",
  ];
  const patterns = ["%", "a%", "%1_", "_12", "%\\%%", "SALES%", "c_rparts%", "%-%", "%s"];
  const arbitrary = filterArbitrary({
    key: fc.constantFrom("mase", "rmse", "segment", "note", "lr", "env", "my key", "quote'key", "absent"),
    text: fc.oneof(
      fc.constantFrom(...strings, ...extra, ...patterns),
      fc.string({ unit: "grapheme-ascii", maxLength: 3 }),
    ),
    metric: fc.oneof(
      fc.constantFrom(0.5, 0.8, 1.2, 10, -3.5, 0),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => (value === 0 ? 0 : value)),
    ),
    version: fc.integer({ min: -1, max: 3 }),
    // Ordering other strings follows each database's collation; ISO timestamps sort the same in all of them.
    stringOrdering: false,
    timestamp: fc.oneof(
      fc.constantFrom(...VERSIONS.map((v) => v.created_at)),
      fc
        .date({
          min: new Date("2023-12-01T00:00:00Z"),
          max: new Date("2024-05-01T00:00:00Z"),
          noInvalidDate: true,
        })
        .map((date) => date.toISOString()),
    ),
  });

  it("agrees with the documented semantics on random filters", async () => {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (filter) => {
        const expected = VERSIONS.filter((v) => evaluate(v, filter)).map((v) => v.id);
        expect(await search(filter), printFilter(filter)).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });

  /** Every plan a search could take for `filter`: the scan in id order, and a start from each candidate. */
  function everyPlan(filter: FilterExpression) {
    const candidates = drivingCandidates(filter);
    const huge = candidates.map(() => DRIVER_MAX_ROWS + 1);
    return [
      { label: "scan", plan: planVersionSearch(filter, candidates, huge) },
      ...candidates.map((candidate, i) => ({
        label: `from ${candidate.nodes.map(printFilter).join(" and ")}`,
        plan: planVersionSearch(
          filter,
          candidates,
          huge.map((size, j) => (j === i ? 0 : size)),
        ),
      })),
    ];
  }
  const planned = async (plan: VersionSearchPlan) =>
    (
      await searchedVersions(store.db, plan)
        .select("v.id")
        .where("m.project_id", "=", "p1")
        .orderBy("v.id")
        .execute()
    ).map((row) => row.id);

  /** Several comparisons on one metric or tag: a driver made of them must keep every one. */
  const sameKey = fc.oneof(
    fc.array(
      fc.record({
        kind: fc.constant("compare" as const),
        field: fc.constant({ kind: "metric" as const, key: "mase" }),
        op: fc.constantFrom("=" as const, "<" as const, "<=" as const, ">" as const, ">=" as const),
        value: fc.constantFrom(0, 0.5, 0.8, 0.9, 1.2),
      }),
      { minLength: 2, maxLength: 3 },
    ),
    fc.array(
      fc.oneof(
        fc.record({
          kind: fc.constant("compare" as const),
          field: fc.constant({ kind: "tag" as const, key: "segment" }),
          op: fc.constant("=" as const),
          value: fc.constantFrom("A12", "B7", "a12"),
        }),
        fc.record({
          kind: fc.constant("in" as const),
          field: fc.constant({ kind: "tag" as const, key: "segment" }),
          values: fc.subarray(["A12", "B7", "a12"], { minLength: 1 }),
        }),
      ),
      { minLength: 2, maxLength: 3 },
    ),
  );
  /** Random filters, and conjunctions of them (the shape whose operands can drive a search). */
  const searchFilters = fc.oneof(
    arbitrary,
    fc
      .tuple(
        fc.array(arbitrary, { maxLength: 3 }),
        fc.oneof(sameKey, fc.array(arbitrary, { minLength: 1, maxLength: 2 })),
      )
      .filter(([a, b]) => a.length + b.length >= 2)
      .map(([a, b]): FilterExpression => ({ kind: "and", operands: [...b, ...a] })),
  );

  it("finds the same versions whichever plan a search takes, and estimates each start exactly", async () => {
    await fc.assert(
      fc.asyncProperty(searchFilters, async (filter) => {
        const expected = VERSIONS.filter((v) => evaluate(v, filter)).map((v) => v.id);
        for (const { label, plan } of everyPlan(filter)) {
          expect(await planned(plan), `${printFilter(filter)}: ${label}`).toEqual(expected);
        }
        const candidates = drivingCandidates(filter);
        if (candidates.length === 0) return;
        const sizes: Record<string, unknown> = await candidateSizesQuery(
          store.db,
          "p1",
          candidates,
        ).executeTakeFirstOrThrow();
        expect(
          candidates.map((_, i) => Number(sizes[`n${i}`])),
          printFilter(filter),
        ).toEqual(
          candidates.map((c) => VERSIONS.filter((v) => c.nodes.every((node) => evaluate(v, node))).length),
        );
      }),
      { numRuns: 150 },
    );
  });

  it("starts from indexable top-level conditions, one candidate per field", () => {
    const filter = parseFilter(
      'metrics.mase >= 0.5 and tags.segment = "A" and metrics.mase < 0.9 and model in ("a", "b") and ' +
        'tags.note like "x%" and metrics.rmse != 1 and runtime = "onnx" and (tags.env = "prod" or fleet = "f")',
    );
    expect(drivingCandidates(filter).map((c) => c.nodes.map(printFilter))).toEqual([
      ["metrics.mase >= 0.5", "metrics.mase < 0.9"],
      ['tags.segment = "A"'],
      ['model in ("a", "b")'],
    ]);
    expect(drivingCandidates(parseFilter('fleet like "car%"')).map((c) => c.side)).toEqual(["models"]);
    expect(drivingCandidates(parseFilter('tags.a = "1" or tags.b = "2"'))).toEqual([]);
    expect(drivingCandidates(undefined)).toEqual([]);
  });

  it("picks the smallest candidate within DRIVER_MAX_ROWS, else scans in id order", () => {
    const filter = parseFilter('metrics.mase < 0.05 and tags.segment = "A" and model = "m"');
    const candidates = drivingCandidates(filter);
    const sql = (sizes: number[]) => {
      const plan = planVersionSearch(filter, candidates, sizes);
      return { start: plan.start, sql: searchedVersions(store.db, plan).select("v.id").compile().sql };
    };
    const fromMase = sql([10, 20, 30]);
    expect(fromMase.start).toBe("versions-first");
    expect(fromMase.sql).toMatch(
      /cross join .*"v"\."id" in \(select "kv"\."version_id" from "version_metrics"/,
    );
    expect(fromMase.sql).toMatch(/exists \(select "kv"\."version_id" from "version_tags"/);
    expect(sql([DRIVER_MAX_ROWS, 20, 30]).sql).toMatch(
      /"v"\."id" in \(select "kv"\."version_id" from "version_tags"/,
    );
    expect(sql([DRIVER_MAX_ROWS + 1, DRIVER_MAX_ROWS + 1, 3]).start).toBe("models-first");
    const scan = sql([DRIVER_MAX_ROWS + 1, DRIVER_MAX_ROWS + 1, DRIVER_MAX_ROWS + 1]);
    expect(scan.start).toBe("versions-first");
    expect(scan.sql).not.toMatch(/ in \(select/);
  });
});
