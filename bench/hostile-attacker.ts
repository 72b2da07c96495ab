/**
 * The attacking process of `npm run bench:hostile` (forked by bench/hostile.bench.ts with an IPC channel).
 * For each case the bench sends `{ type: "prepare", name, facts, options }`; this process builds the case's
 * payloads and answers `{ type: "ready" }`; the bench resets its event-loop monitor and sends `{ type: "go" }`;
 * this process runs the attack and answers `{ type: "done", result }` (or `{ type: "failed", message }`).
 */
import { type CaseOptions, type CaseResult, prepareCase, type ServerFacts } from "./hostile-attacks.js";

export type ToAttacker =
  | { type: "prepare"; name: string; facts: ServerFacts; options: CaseOptions }
  | { type: "go" }
  | { type: "exit" };
export type FromAttacker =
  | { type: "ready" }
  | { type: "done"; result: CaseResult }
  | { type: "failed"; message: string };

const send = (message: FromAttacker) => {
  if (process.connected) process.send?.(message);
};
// The bench (and the server in it) is gone: nothing left to attack.
process.on("disconnect", () => process.exit(0));
let prepared: (() => Promise<CaseResult>) | undefined;

process.on("message", (message: ToAttacker) => {
  if (message.type === "exit") {
    process.exit(0);
  }
  if (message.type === "prepare") {
    try {
      prepared = prepareCase(message.name, message.facts, message.options);
      send({ type: "ready" });
    } catch (error) {
      send({ type: "failed", message: (error as Error).stack ?? String(error) });
    }
    return;
  }
  const run = prepared;
  prepared = undefined;
  if (!run) {
    send({ type: "failed", message: "go before prepare" });
    return;
  }
  run().then(
    (result) => send({ type: "done", result }),
    (error: unknown) => send({ type: "failed", message: (error as Error).stack ?? String(error) }),
  );
});
