import { describe, expect, it } from "vitest";
import { type CheckResult, compareHealth, modelHealth, summarise } from "./index.js";

function r(
  check: string,
  outcome: CheckResult["outcome"],
  severity: CheckResult["severity"],
  exceedance = 0,
  latest: number | null = 10,
): CheckResult {
  return {
    check,
    kind: "performance",
    severity,
    outcome,
    reasons: [`${check} ${outcome}`],
    evidence: { statistic: 1, threshold: 1, direction: "above", windowSize: 1, observations: 1 },
    exceedance: outcome === "violated" ? exceedance : 0,
    latest,
  };
}

describe("model health", () => {
  it("is critical when a critical check is violated, warning for warnings only, healthy otherwise", () => {
    expect(
      modelHealth("a", [r("x", "violated", "critical", 1), r("y", "violated", "warning", 5)]).level,
    ).toBe("critical");
    expect(modelHealth("a", [r("y", "violated", "warning", 5), r("z", "satisfied", "critical")]).level).toBe(
      "warning",
    );
    // Not enough data is not a fault: listed, but the model stays healthy.
    const h = modelHealth("a", [r("z", "satisfied", "critical"), r("w", "inconclusive", "critical")]);
    expect(h).toMatchObject({ level: "healthy", counts: { satisfied: 1, violated: 0, inconclusive: 1 } });
    expect(h.reasons.map((x) => x.check)).toEqual(["w"]);
  });

  it("orders reasons: critical before warning, then by exceedance, then the most recent, inconclusive last", () => {
    const h = modelHealth("a", [
      r("inc", "inconclusive", "critical"),
      r("warn-big", "violated", "warning", 9),
      r("crit-small-old", "violated", "critical", 0.1, 5),
      r("crit-small-new", "violated", "critical", 0.1, 8),
      r("crit-big", "violated", "critical", 2),
      r("ok", "satisfied", "critical"),
    ]);
    expect(h.reasons.map((x) => x.check)).toEqual([
      "crit-big",
      "crit-small-new",
      "crit-small-old",
      "warn-big",
      "inc",
    ]);
    expect(h.exceedance).toBe(2);
    expect(h.evidence.map((e) => e.check)).toEqual(h.reasons.map((x) => x.check));
  });
});

describe("summary", () => {
  it("counts levels and lists the exceptions critical first, then by exceedance, then by recency", () => {
    const healths = [
      modelHealth("healthy", [r("a", "satisfied", "critical")]),
      modelHealth("warn-huge", [r("a", "violated", "warning", 50)]),
      modelHealth("crit-old", [r("a", "violated", "critical", 1, 3)]),
      modelHealth("crit-new", [r("a", "violated", "critical", 1, 7)]),
      modelHealth("crit-big", [r("a", "violated", "critical", 4, 1)]),
      modelHealth("no-data", [r("a", "inconclusive", "critical")]),
    ];
    const s = summarise(healths);
    expect(s.total).toBe(6);
    expect(s.counts).toEqual({ healthy: 2, warning: 1, critical: 3 });
    expect(s.inconclusive).toBe(1);
    expect(s.exceptions.map((h) => h.model)).toEqual(["crit-big", "crit-new", "crit-old", "warn-huge"]);
  });

  it("orders ties by model name, so the order is total", () => {
    const a = modelHealth("b", [r("a", "violated", "warning", 1)]);
    const b = modelHealth("a", [r("a", "violated", "warning", 1)]);
    expect([a, b].sort(compareHealth).map((h) => h.model)).toEqual(["a", "b"]);
  });
});
