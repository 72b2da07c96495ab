import { CompiledQuery, type KyselyPlugin, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryBlobStore } from "../artifacts/index.js";
import { manualClock } from "../core/index.js";
import type { Store } from "../store/index.js";
import { freshStore } from "../store/test-support/dialects.js";
import { DRIVER_MAX_ROWS } from "./filter/index.js";
import { createRegistry, type Registry } from "./index.js";

/**
 * How SQLite runs a search over enough versions for the plan to matter (its planner has no statistics, so the
 * shape of the SQL decides): a page must not sort every version, nor collect every id a common tag matches.
 * PostgreSQL plans from its own statistics; the property tests in filter/ check that every plan finds the same
 * versions on both databases.
 */
const VERSIONS = 12_000;
const MODELS = 100;

describe("version search plans on SQLite", () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let registry: Registry;
  const searches: CompiledQuery[] = [];

  beforeAll(async () => {
    ({ store, dispose } = await freshStore("sqlite"));
    // version i: model m-(i % 100), tag segment A for even i, metric mase (i % 1000) / 1000.
    await sql`insert into projects values ('p1', 'acme', '', '2024-01-01')`.execute(store.db);
    await sql`insert into blobs values ('sha256:a', 1, '2024-01-01')`.execute(store.db);
    await sql`
      with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ${MODELS})
      insert into registered_models
      select 'mdl_' || printf('%03d', i), 'p1', 'm-' || printf('%03d', i), '', 'fleet', ${VERSIONS / MODELS},
        null, '2024-01-01', '2024-01-01' from n`.execute(store.db);
    await sql`
      with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ${VERSIONS})
      insert into model_versions
      select 'ver_' || printf('%05d', i), 'mdl_' || printf('%03d', i % ${MODELS}), i / ${MODELS} + 1, 'onnx',
        'sha256:a', 1, '', 'ready', '', null, null, null, null, '2024-01-01' from n`.execute(store.db);
    await sql`
      insert into version_tags select id, 'segment', case when cast(substr(id, 5) as integer) % 2 = 0
        then 'A' else 'B' end from model_versions`.execute(store.db);
    await sql`
      insert into version_metrics select id, 'mase', (cast(substr(id, 5) as integer) % 1000) / 1000.0
        from model_versions`.execute(store.db);

    // Every search query the registry runs, compiled, so the test can ask SQLite how it runs it.
    const capture: KyselyPlugin = {
      transformQuery(args) {
        const compiled = store.db.getExecutor().compileQuery(args.node, args.queryId);
        if (compiled.sql.startsWith('select "v".*')) searches.push(compiled);
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    const clock = manualClock();
    registry = createRegistry({
      // Searches read through readDb (the same connection for an in-memory database); both are captured.
      store: { ...store, db: store.db.withPlugin(capture), readDb: store.readDb.withPlugin(capture) },
      blobs: createMemoryBlobStore({ clock }),
      clock,
      limits: { bulkMaxVersions: 10, pageSizeMax: 1000, artifactMaxBytes: 1 << 20 },
    });
  });
  afterAll(() => dispose());

  /** The versions a search returns, and SQLite's plan for its main query. */
  async function searchPlan(filter: string | undefined, limit = 100) {
    searches.length = 0;
    const page = await registry.versions.search("acme", { ...(filter && { filter }), limit });
    const [query] = searches;
    if (!query) throw new Error("no search query ran");
    const { rows } = await store.db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]),
    );
    return { ids: page.items.map((v) => v.id), plan: rows.map((r) => r.detail).join(" | ") };
  }
  const id = (i: number) => `ver_${String(i).padStart(5, "0")}`;
  const newest = (count: number, keep: (i: number) => boolean) => {
    const ids: string[] = [];
    for (let i = VERSIONS - 1; i >= 0 && ids.length < count; i--) if (keep(i)) ids.push(id(i));
    return ids;
  };

  it("reads an unfiltered page in id order, without sorting every version", async () => {
    const { ids, plan } = await searchPlan(undefined);
    expect(ids).toEqual(newest(100, () => true));
    expect(plan).toMatch(/^SCAN v USING (COVERING )?INDEX sqlite_autoindex_model_versions_1/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });

  it("checks a tag that half the versions carry row by row instead of collecting all their ids", async () => {
    const { ids, plan } = await searchPlan('tags.segment = "A"');
    expect(ids).toEqual(newest(100, (i) => i % 2 === 0));
    expect(plan).toMatch(
      /SEARCH kv EXISTS USING INDEX sqlite_autoindex_version_tags_1 \(version_id=\? AND key=\?\)/,
    );
    expect(plan).not.toMatch(/LIST SUBQUERY|TEMP B-TREE/);
  });

  it("starts from a rare metric range and checks the common tag on its few versions", async () => {
    const { ids, plan } = await searchPlan('metrics.mase < 0.002 and tags.segment = "A"');
    expect(ids).toEqual(newest(100, (i) => i % 1000 < 2 && i % 2 === 0));
    expect(ids).toHaveLength(12);
    expect(plan).toMatch(
      /LIST SUBQUERY \d+ \| SEARCH kv USING INDEX version_metrics_key_value \(key=\? AND value<\?\)/,
    );
    expect(plan).toMatch(/SEARCH kv EXISTS USING INDEX sqlite_autoindex_version_tags_1/);
    expect(plan.match(/LIST SUBQUERY/g)).toHaveLength(1);
  });

  it("reads a range written as two comparisons as one range of the index", async () => {
    const { ids, plan } = await searchPlan("metrics.mase >= 0.5 and metrics.mase < 0.502", 1000);
    expect(ids).toEqual(newest(1000, (i) => i % 1000 >= 500 && i % 1000 < 502));
    expect(ids).toHaveLength(24);
    expect(plan).toMatch(/version_metrics_key_value \(key=\? AND value>\? AND value<\?\)/);
    expect(plan.match(/SUBQUERY/g)).toHaveLength(1);
  });

  it("starts from the named model when that is the smallest start", async () => {
    const { ids, plan } = await searchPlan('model = "m-007" and tags.segment = "B"');
    expect(ids).toEqual(newest(100, (i) => i % MODELS === 7));
    expect(plan).toMatch(
      /^SEARCH m USING INDEX sqlite_autoindex_registered_models_2 \(project_id=\? AND name=\?\)/,
    );
  });

  it("scans in id order when no condition is small enough to start from", async () => {
    expect(DRIVER_MAX_ROWS).toBeLessThan(VERSIONS / 2);
    const { ids, plan } = await searchPlan('metrics.mase >= 0.25 and fleet = "fleet" and tags.segment = "B"');
    expect(ids).toEqual(newest(100, (i) => i % 1000 >= 250 && i % 2 === 1));
    expect(plan).toMatch(/^SCAN v USING INDEX sqlite_autoindex_model_versions_1/);
    expect(plan).not.toMatch(/LIST SUBQUERY|TEMP B-TREE/);
  });
});
