import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_SCHEDULE, isRetryable, parseRetryAfter, retryDelayMs } from "./retry-schedule.js";

describe("the webhook retry schedule", () => {
  const schedule = DEFAULT_RETRY_SCHEDULE;

  it("doubles from 15 s with equal jitter, capped at an hour", () => {
    const low = (n: number) => retryDelayMs(n, schedule, () => 0);
    const high = (n: number) => retryDelayMs(n, schedule, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 6, 7].map(low)).toEqual([
      7_500, 15_000, 30_000, 60_000, 120_000, 240_000, 480_000,
    ]);
    expect([1, 2, 3].map(high)).toEqual([15_000, 30_000, 60_000]);
    expect(low(20)).toBe(1_800_000);
    expect(high(20)).toBeGreaterThan(3_599_990);
    expect(high(20)).toBeLessThanOrEqual(3_600_000);
  });

  it("honours a longer Retry-After, up to its cap, and never waits less than the schedule", () => {
    expect(retryDelayMs(1, schedule, () => 0, 120_000)).toBe(120_000);
    expect(retryDelayMs(3, schedule, () => 0, 1_000)).toBe(30_000);
    expect(retryDelayMs(1, schedule, () => 0, 86_400_000)).toBe(3_600_000);
  });

  it("reads Retry-After as seconds or an HTTP date, and ignores what it cannot read", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("2026", now)).toBe(2_026_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    for (const junk of [undefined, "", "-5", "1.5", "soon", "99999999999"]) {
      expect(parseRetryAfter(junk, now), String(junk)).toBeUndefined();
    }
  });

  it("retries no answer, 408, 425, 429 and 5xx; not 3xx or other 4xx", () => {
    expect([null, 408, 425, 429, 500, 502, 503, 504].every(isRetryable)).toBe(true);
    expect([301, 302, 307, 400, 401, 403, 404, 410, 413, 422].some(isRetryable)).toBe(false);
  });
});
