import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../http/test-support/test-app.js";
import { SPEC_LIMITS } from "./spec-reader.js";
import { hostileSpecs } from "./test-support/hostile-spec.js";

/**
 * Issue 17 item 4: one hostile fleet spec of about a megabyte froze the server for 40–107 s. Through the real
 * route on a listening server, every hostile spec is refused within a second while /healthz, asked again and
 * again during the attempt, keeps answering within 100 ms (the server and this client share one event loop,
 * so each /healthz latency bounds how long the spec blocked it).
 */
const DIGEST = `sha256:${"0".repeat(64)}`;
/**
 * Just under a megabyte: what the base commit accepted. SPEC_LIMITS.maxChars: past the size limit, to the
 * parser's own limits. 7,000 characters: under the YAML token limit for every kind, so parsing runs to the end
 * and the limits on keys, depth and aliases refuse it.
 */
const SIZES = [1_000_000, SPEC_LIMITS.maxChars, 7_000];
const attempts = SIZES.flatMap((chars) =>
  hostileSpecs(chars).flatMap((spec) => [
    {
      label: `${spec.name} as text, ${chars} characters`,
      body: JSON.stringify({ spec: spec.text, format: spec.format, datasetDigest: DIGEST }),
    },
    // JSON also travels as an object, which Fastify parses before the route sees it.
    ...(spec.format === "json"
      ? [
          {
            label: `${spec.name} as an object, ${chars} characters`,
            body: `{"datasetDigest":"${DIGEST}","spec":${spec.text}}`,
          },
        ]
      : []),
  ]),
);

describe("hostile fleet specs over HTTP", () => {
  let server: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const harness = await testApp();
    close = harness.close;
    await harness.app.listen({ host: "127.0.0.1", port: 0 });
    server = `http://127.0.0.1:${(harness.app.server.address() as AddressInfo).port}`;
    // Connections, JIT and the schema's first use, so that the attempts measure the spec alone.
    await submit(JSON.stringify({ spec: "name: warm-up\n", datasetDigest: DIGEST }));
    await fetch(`${server}/healthz`);
  });
  afterAll(() => close());

  async function submit(body: string): Promise<{ status: number; code: unknown }> {
    const res = await fetch(`${server}/api/v1/projects/default/fleets`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const answer = (await res.json()) as { error?: { code?: unknown } };
    return { status: res.status, code: answer.error?.code };
  }

  it.each(attempts)("refuses $label within a second, /healthz answering throughout", async ({ body }) => {
    let attempting = true;
    const healthz: number[] = [];
    const probe = (async () => {
      while (attempting) {
        const started = performance.now();
        const res = await fetch(`${server}/healthz`);
        await res.arrayBuffer();
        healthz.push(performance.now() - started);
      }
    })();
    const started = performance.now();
    const answer = await submit(body);
    const took = performance.now() - started;
    attempting = false;
    await probe;
    // A body past the route's limit is refused unread (413); anything else is read and found invalid.
    expect([
      { status: 400, code: "VALIDATION_FAILED" },
      { status: 413, code: "BODY_TOO_LARGE" },
    ]).toContainEqual(answer);
    expect(took, `refused after ${Math.round(took)} ms`).toBeLessThan(1_000);
    const slowest = Math.max(...healthz);
    expect(slowest, `slowest /healthz of ${healthz.length}: ${Math.round(slowest)} ms`).toBeLessThan(100);
  });
});
