/**
 * The process that test/e2e/autopilot-crash.test.ts kills with SIGKILL: it runs an autopilot policy (or
 * replays its promotions) over the models of one SQLite database, printing a line inside each action's
 * transaction ("applied MODEL", after the alias move, before the ledger row and the commit) and one after
 * each commit ("recorded MODEL").
 *
 *   node --import tsx test/e2e/autopilot-crash-child.ts setup|policy|replay DATABASE MODELS
 */
import { createMemoryBlobStore } from "../../src/artifacts/index.js";
import {
  type AutopilotObserver,
  AutopilotService,
  type DecidedAction,
  validatePolicy,
} from "../../src/autopilot/index.js";
import { testCompare } from "../../src/autopilot/test-support/compare.js";
import { MemoryEvidence } from "../../src/autopilot/test-support/evidence.js";
import { queueRetrain } from "../../src/autopilot/test-support/retrain.js";
import { systemClock } from "../../src/core/index.js";
import { JobQueue } from "../../src/jobs/index.js";
import { createRegistry, DEFAULT_PROJECT } from "../../src/registry/index.js";
import { migrateToLatest, openStore } from "../../src/store/index.js";

export const CRASH_POLICY = {
  name: "crash",
  fleet: "crashfleet",
  rules: [{ when: { newData: { minActuals: 6 } }, do: ["evaluate"] }],
  evaluate: { test: "dm", alpha: 0.05, power: 1, minSamples: 12 },
  promote: { margin: 0.05, approval: "auto" },
  limits: { promote: { max: 1, perHours: 24 } },
};

export const modelName = (i: number) => `crash-${String(i).padStart(4, "0")}`;

async function main(): Promise<void> {
  const [mode, database, count] = process.argv.slice(2);
  const models = Number(count);
  const store = openStore(`sqlite:${database}`);
  await migrateToLatest(store);
  const registry = createRegistry({
    store,
    blobs: createMemoryBlobStore(),
    clock: systemClock,
    limits: { bulkMaxVersions: 10_000, pageSizeMax: 1_000, artifactMaxBytes: 1 << 20 },
  });
  if (mode === "setup") {
    await registry.projects.ensure(DEFAULT_PROJECT);
    await registry.versions.bulkRegister(DEFAULT_PROJECT, {
      versions: Array.from({ length: models }, (_, i) => [
        {
          model: modelName(i),
          fleet: "crashfleet",
          runtime: "skala.forecast",
          artifact: { json: { i, v: 1 } },
          aliases: ["champion"],
        },
        {
          model: modelName(i),
          fleet: "crashfleet",
          runtime: "skala.forecast",
          artifact: { json: { i, v: 2 } },
        },
      ]).flat(),
    });
    await store.close();
    return;
  }
  const evidence = new MemoryEvidence();
  const wobble = (i: number) => ((i * 7) % 5) - 2;
  for (let i = 0; i < models; i++) {
    const name = modelName(i);
    evidence
      .setErrors(
        DEFAULT_PROJECT,
        name,
        1,
        Array.from({ length: 24 }, (_, t) => 10 + wobble(t)),
        "2026-11",
      )
      .setErrors(
        DEFAULT_PROJECT,
        name,
        2,
        Array.from({ length: 24 }, (_, t) => 5 + wobble(t + 1)),
        "2026-11",
      )
      .addActuals(DEFAULT_PROJECT, name, ["m1", "m2", "m3", "m4", "m5", "m6"]);
  }
  const observer: AutopilotObserver = {
    // Inside the transaction: the alias has moved, the ledger row is not written, nothing has committed.
    async actionApplied(action) {
      process.stdout.write(`applied ${action.model}\n`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    },
  };
  const autopilot = new AutopilotService({
    store,
    registry,
    retrain: queueRetrain(new JobQueue({ store })),
    compare: testCompare,
    evidence,
    clock: systemClock,
    observer,
  });
  const policy = validatePolicy(CRASH_POLICY);
  const report = (outcome: string, model: string) => process.stdout.write(`${outcome} ${model}\n`);
  if (mode === "policy") {
    const run = await autopilot.runPolicy(policy);
    for (const a of run.actions)
      if (a.action.kind === "promote") report(`recorded-${a.outcome}`, a.action.model);
  } else {
    // The promotions the engine decides for the starting state, executed again as they are.
    const decisions: DecidedAction[] = Array.from({ length: models }, (_, i) => ({
      kind: "promote",
      project: DEFAULT_PROJECT,
      model: modelName(i),
      policy: "crash",
      key: `crash:${modelName(i)}:promote:1->2`,
      reason: "replay",
      evidence: {},
      fromVersion: 1,
      toVersion: 2,
    }));
    for (const decision of decisions) {
      const [done] = await autopilot.execute([decision], policy);
      report(`recorded-${done?.outcome}`, decision.model);
    }
  }
  process.stdout.write("finished\n");
  await store.close();
}

await main();
