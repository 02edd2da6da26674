import { describe, expect, it } from "vitest";
import { refreshAheadAt } from "./refresh-ahead.js";

const policy = (random: number) => ({
  refreshAheadRatio: 0.75,
  refreshAheadJitterRatio: 0.1,
  random: () => random,
});

describe("refreshAheadAt", () => {
  it("places the point at the ratio of the lifetime, moved earlier by the jitter", () => {
    expect(refreshAheadAt(0, 100_000, undefined, 95_000, policy(0))).toBe(75_000);
    expect(refreshAheadAt(0, 100_000, undefined, 95_000, policy(0.5))).toBe(71_250);
    expect(refreshAheadAt(1_000, 101_000, undefined, 96_000, policy(1))).toBeCloseTo(68_500);
  });
  it("is off at a ratio of 1: the end of the usable life, never moved earlier by the jitter", () => {
    const off = (random: number) => ({ ...policy(random), refreshAheadRatio: 1 });
    expect(refreshAheadAt(0, 100_000, undefined, 95_000, off(0.5))).toBe(95_000);
    expect(refreshAheadAt(0, 100_000, undefined, 95_000, off(0.999))).toBe(95_000);
    expect(refreshAheadAt(0, 100_000, 10_000, 95_000, off(0.5))).toBe(10_000);
  });
  it("honours the server's refresh_in", () => {
    expect(refreshAheadAt(0, 100_000, 10_000, 95_000, policy(0.5))).toBe(10_000);
  });
  it("ignores a hint that is no time (NaN in a creator's own set), as a missing one", () => {
    expect(refreshAheadAt(0, 100_000, Number.NaN, 95_000, policy(0))).toBe(75_000);
  });
  it("is never later than the end of the usable life", () => {
    expect(refreshAheadAt(0, 100_000, 99_000, 95_000, policy(0))).toBe(95_000);
    expect(refreshAheadAt(0, 100_000, undefined, 50_000, policy(0))).toBe(50_000);
  });
});
