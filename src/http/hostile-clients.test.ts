import { execFile } from "node:child_process";
import { connect, type Socket } from "node:net";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_PROJECT } from "../registry/index.js";
import { buildTestModel, randomInput } from "../serving/test-support/onnx-models/index.js";
import { testApp } from "./test-support/test-app.js";

/**
 * Hostile clients against a real listening server (not `inject`): sockets that send headers and a byte and
 * then hold, bodies that trickle, bodies that would pin memory, and a keep-alive upload refused half-way.
 */

const run = promisify(execFile);

type Harness = Awaited<ReturnType<typeof testApp>>;

let harness: Harness | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await harness?.close();
  harness = undefined;
});

async function listen(options: Parameters<typeof testApp>[0]): Promise<{ harness: Harness; port: number }> {
  harness = await testApp(options);
  await harness.app.listen({ host: "127.0.0.1", port: 0 });
  const address = harness.app.server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { harness, port: address.port };
}

interface RawExchange {
  socket: Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<{ text: string; afterMs: number }>;
  /** Resolves with the first bytes the server sends. */
  answered: Promise<string>;
}

/** Opens a socket and sends a request's head plus `body` (of a declared `contentLength`), then holds. */
function rawRequest(port: number, path: string, contentLength: number, body: Buffer | string): RawExchange {
  const socket = connect({ host: "127.0.0.1", port });
  sockets.push(socket);
  const started = performance.now();
  let text = "";
  let answer: (value: string) => void = () => {};
  const answered = new Promise<string>((resolve) => {
    answer = resolve;
  });
  socket.on("data", (chunk) => {
    text += chunk.toString("latin1");
    answer(text);
  });
  // A reset after the answer is fine: the server closed a connection whose body it never read.
  socket.on("error", () => {});
  const closed = new Promise<{ text: string; afterMs: number }>((resolve) => {
    socket.on("close", () => resolve({ text, afterMs: performance.now() - started }));
  });
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n`,
  );
  socket.write(body);
  return { socket, closed, answered };
}

const inferBody = JSON.stringify({
  inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: Array.from(randomInput(4, 1, 1)) }],
});

describe("hostile clients", () => {
  it("serves legitimate clients while idle bodies hold no inference slot, and closes those sockets after the body deadline", async () => {
    const { harness, port } = await listen({
      inference: { maxInflight: 4 },
      bodyGuard: { timeoutMs: 500, minBytesPerSecond: 1024 },
    });
    await harness.registry.versions.bulkRegister(DEFAULT_PROJECT, {
      versions: [
        {
          model: "linear",
          runtime: "onnx",
          artifact: {
            base64: Buffer.from(buildTestModel({ kind: "linear", inputs: 4, outputs: 2, seed: 1 })).toString(
              "base64",
            ),
          },
        },
      ],
    });
    // Four times the in-flight limit: headers and one byte, then nothing.
    const idle = Array.from({ length: 16 }, () => rawRequest(port, "/v2/models/linear/infer", 4096, "{"));
    await new Promise((resolve) => setTimeout(resolve, 100));

    const base = `http://127.0.0.1:${port}`;
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        fetch(`${base}/v2/models/linear/infer`, { method: "POST", body: inferBody }),
      ),
    );
    expect(answers.map((res) => res.status)).toEqual(Array(4).fill(200));
    const answer = (await answers[0]?.json()) as { outputs: Array<{ shape: number[] }> };
    expect(answer.outputs[0]?.shape).toEqual([1, 2]);
    expect((await fetch(`${base}/api/v1/projects/default/models`)).status).toBe(200);

    const ends = await Promise.all(idle.map((exchange) => exchange.closed));
    for (const { text, afterMs } of ends) {
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
      expect(text.toLowerCase()).toContain("connection: close");
      expect(text).toContain("the request body arrived too slowly");
      expect(afterMs).toBeGreaterThanOrEqual(450);
      expect(afterMs).toBeLessThan(3_000);
    }
    expect(harness.inference?.admission.inflight).toBe(0);
    expect(harness.inference?.stats(1).refused).toBe(0);
  });

  it("lets a slow but steady body arrive: the deadline grows with the bytes received", async () => {
    const { port } = await listen({ bodyGuard: { timeoutMs: 300, minBytesPerSecond: 1024 } });
    const body = JSON.stringify({ name: "steady", description: "x".repeat(3_000) });
    const exchange = rawRequest(port, "/api/v1/projects/default/models", Buffer.byteLength(body), "");
    // About 2,500 bytes per second for 1.2 s: four times the initial deadline, above the minimum rate.
    for (let sent = 0; sent < body.length; sent += 250) {
      exchange.socket.write(body.slice(sent, sent + 250));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await exchange.answered).toMatch(/^HTTP\/1\.1 201 /);
  });

  it("bounds the bytes of bodies being read: past the budget a body is refused with 503 and its connection closed", async () => {
    const { port } = await listen({
      bodyLimitBytes: 32 * 1024,
      bodyGuard: { inflightBytes: 64 * 1024, timeoutMs: 30_000 },
    });
    const chunk = Buffer.alloc(24 * 1024, 0x20);
    // 4 × 24 KiB of declared 30 KiB bodies held open: 96 KiB would be in memory without the budget.
    const held: RawExchange[] = [];
    for (let i = 0; i < 4; i++) {
      held.push(rawRequest(port, "/api/v1/projects/default/models", 30 * 1024, chunk));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const refused = await Promise.all(held.slice(2).map((exchange) => exchange.closed));
    for (const { text } of refused) {
      expect(text).toMatch(/^HTTP\/1\.1 503 /);
      expect(text.toLowerCase()).toContain("retry-after: 1");
      expect(text.toLowerCase()).toContain("connection: close");
      expect(text).toContain("OVERLOADED");
    }
    // While 48 KiB are held, a whole 20 KiB body does not fit either.
    const over = await fetch(`http://127.0.0.1:${port}/api/v1/projects/default/models`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "over", description: "x".repeat(20 * 1024) }),
    });
    expect(over.status).toBe(503);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe("OVERLOADED");
    // The two bodies within the budget still complete normally.
    held[0]?.socket.write(Buffer.alloc(6 * 1024, 0x20));
    expect(await held[0]?.answered).toMatch(/^HTTP\/1\.1 400 /);
    const small = await fetch(`http://127.0.0.1:${port}/api/v1/projects/default/models`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "fits" }),
    });
    expect(small.status).toBe(201);
  });

  it("survives a body refused unread for its Content-Length (413) whose deadline passes afterwards", async () => {
    // Fastify refuses a declared length over the limit without reading the body, so nothing listens to the
    // body meter: its deadline (or the client's close) used to destroy it with an error no one handled, an
    // uncaught 'error' event that took the whole process down one deadline after the 413.
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    try {
      const { port } = await listen({ bodyLimitBytes: 16 * 1024, bodyGuard: { timeoutMs: 200 } });
      const held = rawRequest(port, "/api/v1/projects/default/models", 64 * 1024, Buffer.alloc(1024, 0x20));
      const closed = rawRequest(port, "/v2/models/linear/infer", 64 * 1024, Buffer.alloc(1024, 0x20));
      for (const exchange of [held, closed]) {
        const answer = await exchange.answered;
        expect(answer).toMatch(/^HTTP\/1\.1 413 /);
        expect(answer.toLowerCase()).toContain("connection: close");
      }
      closed.socket.destroy();
      // Past the deadline, the rest never sent: the server is still up and answering.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
  });

  it("answers 413 to a client in another process still sending its body, instead of resetting the connection (lingering close)", async () => {
    const { port } = await listen({ bodyLimitBytes: 16 * 1024 });
    // fetch (undici) from its own process, as the CLI uploads: a 4 MiB body the route refuses from its
    // Content-Length while the client is still writing it. Without the lingering close the server destroyed
    // the socket with the body unread, the kernel reset the connection, and most of these requests failed with
    // EPIPE or ECONNRESET instead of reading the 413 that had been sent.
    const client = `
      const url = "http://127.0.0.1:" + process.argv.at(-1) + "/api/v1/projects/default/models";
      const body = JSON.stringify({ name: "big", description: "x".repeat(4 << 20) });
      const answers = {};
      for (let i = 0; i < 20; i++) {
        let answer;
        try {
          const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
          answer = res.status + " " + (await res.json()).error.code;
        } catch (error) {
          answer = String(error.cause?.code ?? error.message);
        }
        answers[answer] = (answers[answer] ?? 0) + 1;
      }
      console.log(JSON.stringify(answers));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", client, String(port)]);
    expect(JSON.parse(stdout)).toEqual({ "413 BODY_TOO_LARGE": 20 });
  });

  it("closes a keep-alive connection whose artifact upload was refused with 413, so the server stops at once", async () => {
    const { harness, port } = await listen({});
    // The test app's artifact limit is 1 MiB: declare 8 MiB, send 2 MiB, then hold the connection.
    const exchange = rawRequest(port, "/api/v1/artifacts", 8 << 20, Buffer.alloc(2 << 20, 1));
    const { text } = await exchange.closed;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text.toLowerCase()).toContain("connection: close");
    expect(text).toContain("ARTIFACT_TOO_LARGE");
    const started = performance.now();
    await harness.app.close();
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("closes a connection whose headers trickle in past the headers timeout, while other clients are answered", async () => {
    const { port } = await listen({ timeouts: { headersMs: 500 } });
    const socket = connect({ host: "127.0.0.1", port });
    sockets.push(socket);
    const started = performance.now();
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
    });
    socket.on("error", () => {}); // a write after the server closed the socket
    const closed = new Promise<number>((resolve) =>
      socket.on("close", () => resolve(performance.now() - started)),
    );
    socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    // One header byte every 100 ms: never idle long enough for an idle timeout, never done.
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write("a");
    }, 100);
    try {
      const other = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(other.status).toBe(200);
      const afterMs = await Promise.race([
        closed,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("the trickling connection is still open after 5 s")), 5_000),
        ),
      ]);
      // The limit plus at most one check interval (125 ms here), with room for a busy machine.
      expect(afterMs).toBeGreaterThanOrEqual(450);
      expect(afterMs).toBeLessThan(2_000);
      expect(text === "" || text.startsWith("HTTP/1.1 408 "), text).toBe(true);
      const again = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(again.status).toBe(200);
    } finally {
      clearInterval(trickle);
    }
  });
});
