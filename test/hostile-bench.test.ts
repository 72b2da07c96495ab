import { describe, expect, it } from "vitest";
import { chunkedBody, deepJson, errorCodeOf, idleInferHead } from "../bench/hostile-attacks.js";

/** The request builders of `npm run bench:hostile` (bench/hostile-attacks.ts): what its attackers put on the wire. */
describe("bench:hostile attacks", () => {
  it("builds the idle-body request head: a POST infer declaring a length it will not send", () => {
    expect(idleInferHead("part a/1", 4096)).toBe(
      "POST /v2/models/part%20a%2F1/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n" +
        "Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n",
    );
  });

  it("frames a chunked body of exactly the bytes asked for, ending with the last chunk", () => {
    const framed = chunkedBody(70_000).toString("latin1");
    expect(framed.startsWith("10000\r\n")).toBe(true);
    expect(
      framed.endsWith(`\r\n${(70_000 - 65_536).toString(16)}\r\n${" ".repeat(70_000 - 65_536)}\r\n0\r\n\r\n`),
    ).toBe(true);
    expect(framed.replace(/[^ ]/g, "").length).toBe(70_000);
  });

  it("nests JSON to the depth asked for", () => {
    expect(JSON.parse(deepJson("arrays", 3))).toEqual([[[]]]);
    expect(JSON.parse(deepJson("objects", 2))).toEqual({ a: { a: 1 } });
  });

  it("reads the catalogue code from the /api envelope and from a /v2 message", () => {
    expect(errorCodeOf('{"error":{"code":"BODY_TOO_LARGE","message":"…"}}')).toBe("BODY_TOO_LARGE");
    expect(errorCodeOf('{"error":"the request body arrived too slowly: 1 bytes in 2000 ms"}')).toBe(
      "BODY_TIMEOUT",
    );
    expect(errorCodeOf('{"error":"model x has no version"}')).toBe("v2: model x has no version");
    expect(errorCodeOf("<html>")).toBeNull();
  });
});
