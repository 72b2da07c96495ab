import { describe, expect, it } from "vitest";
import { SkalaError } from "../../core/index.js";
import { parseChecksConfig, resolveChecks } from "./index.js";

const fleet = {
  defaults: { severity: "warning", alpha: 0.02, seed: 9 },
  checks: [
    { id: "mase", kind: "performance", metric: "mase", window: 6, tolerance: 0.3, severity: "critical" },
    { id: "level-shift", kind: "change", detector: "cusum" },
    { id: "demand-drift", kind: "drift", target: "prediction", statistic: "ks", windowSize: 12 },
    { id: "non-negative", kind: "rule", rule: "forecast >= 0" },
  ],
  models: {
    "part-17": {
      checks: [
        { id: "mase", tolerance: 0.5 },
        {
          id: "psi-fixed",
          kind: "drift",
          target: "prediction",
          statistic: "psi",
          windowSize: 12,
          threshold: 0.25,
        },
      ],
      disable: ["non-negative"],
    },
  },
};

function issuesOf(value: unknown): { path: string; message: string }[] {
  try {
    parseChecksConfig(value);
  } catch (error) {
    expect(error).toBeInstanceOf(SkalaError);
    expect((error as SkalaError).code).toBe("CHECKS_INVALID");
    return (error as SkalaError).details?.issues as { path: string; message: string }[];
  }
  throw new Error("expected CHECKS_INVALID");
}

describe("check configuration", () => {
  it("resolves a fleet's checks with defaults filled in", () => {
    const checks = resolveChecks(parseChecksConfig(fleet), "part-3");
    expect(checks.map((c) => c.id)).toEqual(["mase", "level-shift", "demand-drift", "non-negative"]);
    const change = checks[1];
    expect(change).toMatchObject({
      kind: "change",
      severity: "warning",
      k: 0.5,
      alpha: 0.02,
      horizon: 12,
      spread: "auto",
      lookback: 1,
      seed: 9,
      minSample: 1,
    });
    expect(checks[0]).toMatchObject({ severity: "critical", tolerance: 0.3, minSample: 6 });
    expect(checks[2]).toMatchObject({ alpha: 0.02, minSample: 12, resamples: 1000 });
  });

  it("merges a model's overrides by id, adds its own checks and drops disabled ones", () => {
    const checks = resolveChecks(parseChecksConfig(fleet), "part-17");
    expect(checks.map((c) => c.id)).toEqual(["mase", "level-shift", "demand-drift", "psi-fixed"]);
    expect(checks[0]).toMatchObject({ metric: "mase", window: 6, tolerance: 0.5, severity: "critical" });
    expect(checks[3]).toMatchObject({ kind: "drift", threshold: 0.25 });
  });

  it("calibrates change checks at 0.1 % per 12 periods by default, with at least 10/α resamples", () => {
    const [change] = resolveChecks(
      parseChecksConfig({ checks: [{ id: "c", kind: "change", detector: "cusum" }] }),
    );
    expect(change).toMatchObject({ alpha: 0.001, resamples: 10_000, horizon: 12, k: 0.5 });
  });

  it("drops checks switched off with enabled: false", () => {
    const config = parseChecksConfig({
      checks: [{ id: "q", kind: "quality", window: 10, enabled: false }],
    });
    expect(resolveChecks(config)).toEqual([]);
  });

  it("lists every problem at once, each with its path", () => {
    const issues = issuesOf({
      checks: [
        { id: "a", kind: "performance", metric: "mape", window: 0, tolerance: 0.2 },
        {
          id: "b",
          kind: "drift",
          target: "prediction",
          statistic: "psi",
          windowSize: 50,
          alpha: 0.01,
          threshold: 0.2,
        },
        { id: "c", kind: "rule", rule: "forecast >=" },
        { id: "a", kind: "change", detector: "cusum" },
        { id: "d", kind: "coverage" },
        { id: "e", kind: "performance", metric: "coverage", window: 8, tolerance: 0.1 },
        { id: "f", kind: "change", detector: "cusum", colour: "red" },
      ],
      models: {
        "part-1": {
          checks: [
            { id: "zzz", tolerance: 1 },
            { id: "a", kind: "drift" },
          ],
          disable: ["nope"],
        },
        "part-2": { checks: [{ id: "a", window: -3 }] },
      },
      extra: true,
    });
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "extra",
        "checks/0/metric",
        "checks/0/window",
        "checks/1/threshold",
        "checks/2/rule",
        "checks/3/id",
        "checks/4/kind",
        "checks/5/level",
        "checks/6/colour",
        "models/part-1/checks/0/id",
        "models/part-1/checks/1/kind",
        "models/part-1/disable/0",
        "models/part-2/checks/0/window",
      ]),
    );
    expect(issues.find((i) => i.path === "checks/3/id")?.message).toContain("already the id of checks/0");
    expect(issues.find((i) => i.path === "checks/2/rule")?.message).toMatch(/^at \d+: /);
  });

  it("refuses what is not a configuration at all", () => {
    expect(issuesOf(null)).toEqual([{ path: "", message: "must be an object" }]);
    expect(issuesOf({}).map((i) => i.path)).toContain("checks");
  });
});
