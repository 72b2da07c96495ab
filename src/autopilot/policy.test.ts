import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSkalaError } from "../core/index.js";
import { needsPerson, parsePolicy, parsePolicyText, policyDocument, validatePolicy } from "./policy.js";

const NIGHTLY = `
name: nightly
project: default
fleet: carparts
environment: production
rules:
  - when: { check: { level: critical } }
    do: [retrain]
  - when: { newData: { minActuals: 6 } }
    do: [evaluate, rollback]
  - when: { schedule: { everyMinutes: 1440 } }
    do: [evaluate]
evaluate: { test: dm, alpha: 0.05, h: 1, power: 2, minSamples: 12 }
promote: { margin: 0.05, approval: auto }
rollback: { probationHours: 72, degradation: 0.1, approval: auto }
limits:
  promote: { max: 1, perHours: 24 }
  retrain: { max: 2, perHours: 24 }
approval: { environments: [production], expiresAfterHours: 48 }
`;

describe("policy documents", () => {
  it("reads a YAML policy into triggers, actions, settings and limits", () => {
    const result = parsePolicyText(NIGHTLY);
    if (!result.ok) throw new Error(JSON.stringify(result.error));
    const policy = result.value;
    expect(policy.rules.map((r) => r.when)).toEqual([
      { kind: "check", level: "critical" },
      { kind: "new-data", minActuals: 6 },
      { kind: "schedule", everyMinutes: 1440 },
    ]);
    expect(policy.limits.promote).toEqual({ max: 1, perHours: 24 });
    expect(policy.evaluate).toMatchObject({ test: "dm", h: 1, power: 2, minSamples: 12 });
    // production is listed as needing a person, so promotion there goes to the approval queue.
    expect(needsPerson(policy, "promote")).toBe(true);
    expect(needsPerson({ ...policy, environment: "staging" }, "promote")).toBe(false);
  });

  it("fills in defaults: project, alpha, minSamples, approval", () => {
    const policy = validatePolicy({
      name: "p",
      rules: [{ when: { schedule: { everyMinutes: 60 } }, do: ["evaluate"] }],
      evaluate: { test: "rank", minEffect: 0.2 },
    });
    expect(policy.project).toBe("default");
    expect(policy.evaluate).toEqual({ test: "rank", minEffect: 0.2, alpha: 0.05, minSamples: 8 });
    expect(policy.approval).toEqual({ environments: [], expiresAfterHours: 72 });
    expect(policy.limits).toEqual({});
  });

  it("reports every problem at once, each with its path, as POLICY_INVALID", () => {
    const bad = {
      name: "no spaces allowed",
      rules: [
        { when: { check: { level: "fatal" } }, do: ["retrain", "retrain"] },
        { when: { schedule: { everyMinutes: 0 }, newData: { minActuals: 1 } }, do: ["evaluate"] },
        { when: {}, do: ["rollback", "explode"] },
      ],
      promote: { margin: 2, approval: "auto" },
      limits: { promote: { max: 1 } },
      colour: "blue",
    };
    let thrown: unknown;
    try {
      validatePolicy(bad);
    } catch (error) {
      thrown = error;
    }
    expect(isSkalaError(thrown) && thrown.code).toBe("POLICY_INVALID");
    const issues = (thrown as { details: { issues: Array<{ path: string; message: string }> } }).details
      .issues;
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/name",
        "/rules/0/when/check/level",
        "/rules/0/do",
        "/rules/1/when/schedule/everyMinutes",
        "/rules/2/do/1",
        "/promote/margin",
        "/limits/promote/perHours",
        "/colour",
      ]),
    );
    expect(issues.find((i) => i.path === "/rules/0/when/check/level")?.message).toMatch(/warning, critical/);
    expect(issues.find((i) => i.path === "/promote/margin")?.message).toMatch(/\[0, 1\]/);
  });

  it("checks what the schema cannot: one trigger kind, the sections the actions need", () => {
    const result = parsePolicy({
      name: "p",
      rules: [
        { when: { schedule: { everyMinutes: 5 }, newData: { minActuals: 1 } }, do: ["evaluate"] },
        { when: {}, do: ["rollback"] },
      ],
      promote: { margin: 0.1, approval: "auto" },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toEqual([
      { path: "/rules/0/when", message: expect.stringMatching(/schedule and newData/) },
      { path: "/rules/0/do/0", message: expect.stringMatching(/evaluate section/) },
      { path: "/rules/1/when", message: expect.stringMatching(/needs one trigger/) },
      { path: "/rules/1/do/0", message: expect.stringMatching(/rollback section/) },
      { path: "/promote", message: expect.stringMatching(/evaluate section/) },
    ]);
  });

  it("refuses text that is not YAML, or too long, with a reason", () => {
    const broken = parsePolicyText("name: [unclosed\nrules: {");
    expect(broken.ok).toBe(false);
    const long = parsePolicyText(`name: x\n#${"a".repeat(70_000)}`);
    expect(!long.ok && long.error[0]?.message).toMatch(/at most 65536 characters/);
    const aliases = parsePolicyText(
      `a: &a [1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]`,
    );
    expect(aliases.ok).toBe(false);
  });

  it("never throws on random input, and accepts nothing that is not an object with rules", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const result = parsePolicy(value);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        parsePolicyText(text);
      }),
      { numRuns: 500 },
    );
  });
});

describe("policy documents written back", () => {
  it("round-trip: a policy written as a document reads back as the same policy", () => {
    const result = parsePolicyText(NIGHTLY);
    if (!result.ok) throw new Error("invalid");
    expect(validatePolicy(policyDocument(result.value))).toEqual(result.value);
  });
});
