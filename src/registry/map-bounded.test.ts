import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { mapBounded } from "./map-bounded.js";

describe("mapBounded", () => {
  it("keeps input order with at most `limit` calls in flight", async () => {
    let active = 0;
    let peak = 0;
    const results = await mapBounded([5, 1, 4, 2, 3, 0, 6], 3, async (ms, index) => {
      active++;
      peak = Math.max(peak, active);
      await sleep(ms);
      active--;
      return `${index}:${ms}`;
    });
    expect(results).toEqual(["0:5", "1:1", "2:4", "3:2", "4:3", "5:0", "6:6"]);
    expect(peak).toBe(3);
    expect(await mapBounded([], 3, async () => 1)).toEqual([]);
  });

  it("starts nothing after a failure and rejects with it", async () => {
    const started: number[] = [];
    const outcome = mapBounded([0, 1, 2, 3, 4, 5], 2, async (item) => {
      started.push(item);
      await sleep(1);
      if (item === 1) throw new Error("item 1 failed");
      return item;
    });
    await expect(outcome).rejects.toThrow("item 1 failed");
    expect(started).toEqual([0, 1, 2]);
    await expect(mapBounded([1], 0, async () => 1)).rejects.toThrow(RangeError);
  });
});
