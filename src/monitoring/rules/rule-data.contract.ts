// The one test suite every RuleData must pass (the in-memory data here; a store's when it implements rules).
import { describe, expect, it } from "vitest";
import type { RuleWindow } from "./rule-ast.js";
import type { RuleRowsRequest } from "./rule-checker.js";
import type { RuleData, RuleObservation, RuleRows } from "./rule-data.js";

export interface RuleDataFixture {
  readonly observations: readonly RuleObservation[];
  readonly references: Readonly<Record<string, number>>;
  /** The end of time windows, in milliseconds since the epoch. */
  readonly now: number;
}

/** Builds the data under test holding exactly the fixture (a store ingests it; the in-memory data wraps it). */
export type RuleDataFactory = (fixture: RuleDataFixture) => Promise<RuleData> | RuleData;

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const MINUTE = 60_000;
const window = (size: number, unit: RuleWindow["unit"]): RuleWindow => ({ kind: "window", size, unit });

/**
 * Twelve monthly forecasts of one segment, one a minute apart in prediction time (m0 oldest); actuals for
 * m0…m9 (m4's is NaN), none yet for m10 and m11; m6 has no lower bound; latency 10 ms × (i + 1).
 */
const FIXTURE: RuleDataFixture = {
  now: NOW,
  references: { mae: 1.25, scale: 2 },
  observations: Array.from({ length: 12 }, (_, i) => {
    const outputs: Record<string, number> = { forecast: 100 + i, upper_80: 110 + i };
    if (i !== 6) outputs.lower_80 = 90 + i;
    return {
      id: `m${i}`,
      at: NOW - (12 - i) * MINUTE,
      period: 24_300 + i,
      prediction: 100 + i,
      outputs,
      inputs: { lag_12: 50 + i },
      latencyMs: 10 * (i + 1),
      ...(i < 10 ? { actual: i === 4 ? Number.NaN : 101 + i } : {}),
    };
  }),
};

function column(rows: RuleRows, key: string): number[] {
  const values = rows.columns[key];
  return values === undefined ? [] : Array.from(values);
}

/**
 * Checks one RuleData implementation against the window semantics of docs/reference/rule-language.md.
 *
 * @example
 * describeRuleDataContract("in-memory", (fixture) => new InMemoryRuleData(fixture));
 */
export function describeRuleDataContract(name: string, factory: RuleDataFactory): void {
  describe(`RuleData contract: ${name}`, () => {
    const read = async (request: RuleRowsRequest): Promise<RuleRows> =>
      (await factory(FIXTURE)).rows(request);

    it("last N predictions: the N newest, oldest first, with the requested columns aligned", async () => {
      const rows = await read({
        window: window(3, "predictions"),
        columns: ["outputs.forecast", "inputs.lag_12", "latency_ms", "prediction"],
        actualsOnly: false,
      });
      expect(rows.ids).toEqual(["m9", "m10", "m11"]);
      expect(column(rows, "outputs.forecast")).toEqual([109, 110, 111]);
      expect(column(rows, "inputs.lag_12")).toEqual([59, 60, 61]);
      expect(column(rows, "latency_ms")).toEqual([100, 110, 120]);
      expect(column(rows, "prediction")).toEqual([109, 110, 111]);
    });

    it("fewer rows than asked for when fewer exist", async () => {
      const rows = await read({ window: window(50, "predictions"), columns: [], actualsOnly: false });
      expect(rows.ids).toHaveLength(12);
      expect(rows.ids[0]).toBe("m0");
    });

    it("actualsOnly counts only predictions with an actual (a NaN actual is one)", async () => {
      const rows = await read({ window: window(4, "predictions"), columns: ["actual"], actualsOnly: true });
      expect(rows.ids).toEqual(["m6", "m7", "m8", "m9"]);
      expect(column(rows, "actual")).toEqual([107, 108, 109, 110]);
      const withNaN = await read({
        window: window(6, "predictions"),
        columns: ["actual"],
        actualsOnly: true,
      });
      expect(withNaN.ids).toEqual(["m4", "m5", "m6", "m7", "m8", "m9"]);
      expect(column(withNaN, "actual")[0]).toBeNaN();
    });

    it("last N periods: the rows of the N newest periods, with their periods", async () => {
      const rows = await read({
        window: window(2, "periods"),
        columns: ["outputs.forecast"],
        actualsOnly: false,
      });
      expect(rows.ids).toEqual(["m10", "m11"]);
      expect(Array.from(rows.periods ?? [])).toEqual([24_310, 24_311]);
      const actuals = await read({ window: window(2, "periods"), columns: ["actual"], actualsOnly: true });
      expect(actuals.ids).toEqual(["m8", "m9"]);
    });

    it("time windows hold the predictions of (now - span, now]", async () => {
      const rows = await read({ window: window(3, "minutes"), columns: [], actualsOnly: false });
      // m9 was made exactly 3 minutes ago: outside; m10 and m11 inside.
      expect(rows.ids).toEqual(["m10", "m11"]);
      const hour = await read({ window: window(1, "hours"), columns: [], actualsOnly: true });
      expect(hour.ids).toHaveLength(10);
    });

    it("a row without a value has NaN; a column nobody has is absent or all NaN", async () => {
      const rows = await read({
        window: window(12, "predictions"),
        columns: ["outputs.lower_80", "outputs.nothing", "inputs.nothing"],
        actualsOnly: false,
      });
      const lower = column(rows, "outputs.lower_80");
      expect(lower).toHaveLength(12);
      expect(lower[6]).toBeNaN();
      expect(lower[5]).toBe(95);
      for (const key of ["outputs.nothing", "inputs.nothing"]) {
        const values = rows.columns[key];
        expect(values === undefined || Array.from(values).every(Number.isNaN), key).toBe(true);
      }
    });

    it("reference answers a value, or undefined for one the profile lacks", async () => {
      const data = await factory(FIXTURE);
      expect(await data.reference("mae")).toBe(1.25);
      expect(await data.reference("scale")).toBe(2);
      expect(await data.reference("accuracy")).toBeUndefined();
    });
  });
}
