import { describe, expect, it } from "vitest";
import { effectiveSkewMs } from "./skew.js";

describe("effectiveSkewMs", () => {
  it("is the configured skew for long-lived tokens", () => {
    expect(effectiveSkewMs(3_600_000, 30_000, 0.2)).toBe(30_000);
  });
  it("is capped at a fraction of a short token's lifetime", () => {
    expect(effectiveSkewMs(20_000, 30_000, 0.2)).toBe(4_000);
    expect(effectiveSkewMs(1_000, 30_000, 0.5)).toBe(500);
  });
  it("is at least one second (servers write exp in whole seconds), but never more than half the lifetime", () => {
    expect(effectiveSkewMs(3_000, 30_000, 0.2)).toBe(1_000);
    expect(effectiveSkewMs(3_600_000, 0, 0.2)).toBe(1_000);
    expect(effectiveSkewMs(1_500, 30_000, 0.2)).toBe(750);
  });
  it("is never negative, even for a token that arrived expired", () => {
    expect(effectiveSkewMs(-5_000, 30_000, 0.2)).toBe(0);
  });
});
