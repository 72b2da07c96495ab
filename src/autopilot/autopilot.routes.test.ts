import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../http/test-support/test-app.js";

const API = "/api/v1/projects/default/autopilot";

/** The autopilot's HTTP routes through the whole app: policies, the ledger, approvals. */
describe("autopilot routes", () => {
  let harness: Awaited<ReturnType<typeof testApp>>;
  let app: Awaited<ReturnType<typeof testApp>>["app"];
  let close: () => Promise<void>;
  beforeAll(async () => {
    harness = await testApp({ artifactValidation: false });
    ({ app, close } = harness);
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

  it("asks a person, lists the request, and approving it over HTTP moves the champion once", async () => {
    await harness.registry.versions.bulkRegister("default", {
      versions: [1, 2].map((v) => ({
        model: "pump",
        fleet: "pumps",
        runtime: "skala.forecast",
        artifact: { json: { v } },
        ...(v === 1 && { aliases: ["champion"] }),
      })),
    });
    const wobble = (i: number) => ((i * 7) % 5) - 2;
    harness.autopilotEvidence
      .setErrors(
        "default",
        "pump",
        1,
        Array.from({ length: 24 }, (_, i) => 10 + wobble(i)),
        "2026-11",
      )
      .setErrors(
        "default",
        "pump",
        2,
        Array.from({ length: 24 }, (_, i) => 5 + wobble(i + 1)),
        "2026-11",
      )
      .addActuals("default", "pump", ["a", "b", "c", "d", "e", "f"]);
    const put = await app.inject({
      method: "PUT",
      url: `${API}/policies/pumps`,
      payload: {
        fleet: "pumps",
        rules: [{ when: { newData: { minActuals: 6 } }, do: ["evaluate"] }],
        evaluate: { test: "dm", power: 1 },
        promote: { margin: 0.05, approval: "person" },
      },
    });
    expect(put.statusCode, put.body).toBe(200);
    const run = await app.inject({ method: "POST", url: `${API}/policies/pumps/run` });
    expect(run.statusCode, run.body).toBe(200);
    expect(
      run
        .json()
        .actions.map((a: { outcome: string; action: { kind: string } }) => [a.action.kind, a.outcome]),
    ).toEqual([
      ["evaluate", "done"],
      ["request-approval", "requested"],
    ]);
    const pending = (
      await app.inject({ method: "GET", url: `${API}/approvals?status=pending&model=pump` })
    ).json().items;
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({
      action: "promote",
      fromVersion: 1,
      toVersion: 2,
      evidence: { better: true },
    });
    const id = pending[0].id as string;
    const approved = await app.inject({
      method: "POST",
      url: `${API}/approvals/${id}/approve`,
      payload: { by: "ana", note: "ok" },
    });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({
      approval: { status: "approved", decidedBy: "ana" },
      action: { kind: "promote", status: "succeeded", approvalId: id },
    });
    const again = await app.inject({
      method: "POST",
      url: `${API}/approvals/${id}/approve`,
      payload: { by: "bo" },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe("APPROVAL_DECIDED");
    expect((await harness.registry.versions.alias("default", "pump", "champion")).version).toBe(2);
    const ledger = (await app.inject({ method: "GET", url: `${API}/actions?model=pump` })).json().items;
    expect(ledger.map((a: { kind: string; status: string }) => `${a.kind}:${a.status}`).sort()).toEqual([
      "evaluate:succeeded",
      "promote:succeeded",
      "request-approval:succeeded",
    ]);
  });
});
