import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../http/test-support/test-app.js";

const API = "/api/v1/projects/default/autopilot";

/** The autopilot's HTTP routes through the whole app: policies, the ledger, approvals. */
describe("autopilot routes", () => {
  let app: Awaited<ReturnType<typeof testApp>>["app"];
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ app, close } = await testApp({ artifactValidation: false }));
  });
  afterAll(() => close());

  it("stores a policy with PUT, reads it back with GET, and lists it", async () => {
    const put = await app.inject({
      method: "PUT",
      url: `${API}/policies/nightly`,
      payload: {
        rules: [{ when: { schedule: { everyMinutes: 1440 } }, do: ["evaluate"] }],
        evaluate: { test: "rank", minEffect: 0.2 },
        promote: { margin: 0.05, approval: "person" },
      },
    });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toMatchObject({
      name: "nightly",
      policy: { project: "default", evaluate: { alpha: 0.05 } },
    });
    const get = await app.inject({ method: "GET", url: `${API}/policies/nightly` });
    expect(get.json().policy).toEqual(put.json().policy);
    const list = await app.inject({ method: "GET", url: `${API}/policies` });
    expect(list.json().items.map((p: { name: string }) => p.name)).toEqual(["nightly"]);
  });

  it("answers 422 POLICY_INVALID with every problem and its path", async () => {
    const res = await app.inject({
      method: "PUT",
      url: `${API}/policies/bad`,
      payload: {
        rules: [{ when: { check: { level: "loud" } }, do: ["dance"] }],
        limits: { promote: { max: -1, perHours: 24 } },
      },
    });
    expect(res.statusCode).toBe(422);
    const { error } = res.json();
    expect(error.code).toBe("POLICY_INVALID");
    expect(error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      "/limits/promote/max",
      "/rules/0/do/0",
      "/rules/0/when/check/level",
    ]);
    expect((await app.inject({ method: "GET", url: `${API}/policies/bad` })).statusCode).toBe(404);
  });

  it("runs a policy, lists the ledger, and answers 404 and 409 for unknown or decided approvals", async () => {
    const run = await app.inject({ method: "POST", url: `${API}/policies/nightly/run` });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toMatchObject({ policy: "nightly", actions: [], errors: [] });
    const actions = await app.inject({ method: "GET", url: `${API}/actions?kind=promote&limit=5` });
    expect(actions.json()).toEqual({ items: [] });
    const approvals = await app.inject({ method: "GET", url: `${API}/approvals?status=pending` });
    expect(approvals.json()).toEqual({ items: [] });
    const missing = await app.inject({
      method: "POST",
      url: `${API}/approvals/apr_missing/approve`,
      payload: { by: "ana" },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("APPROVAL_NOT_FOUND");
    const blank = await app.inject({
      method: "POST",
      url: `${API}/approvals/apr_missing/reject`,
      payload: { by: " " },
    });
    expect(blank.statusCode).toBe(400);
    expect((await app.inject({ method: "POST", url: `${API}/policies/nope/run` })).json().error.code).toBe(
      "POLICY_NOT_FOUND",
    );
  });
});
