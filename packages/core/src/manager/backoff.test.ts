import { describe, expect, it } from "vitest";
import { NetworkError, OAuthError } from "../errors/errors.js";
import { backoffDelayMs, retryAfterOf, retryDelayMs } from "./backoff.js";

const policy = { retries: 3, baseDelayMs: 100, maxDelayMs: 1_000 };

describe("backoff", () => {
  it("draws a full-jitter delay below an exponentially growing cap", () => {
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(attempt, policy, () => 0.999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
  });
  it("waits at least the server's Retry-After", () => {
    const error = new OAuthError({ error: "slow_down", status: 429, retryAfterMs: 700 });
    expect(retryAfterOf(error)).toBe(700);
    expect(retryDelayMs(error, 0, policy, () => 0.5)).toBe(700);
    expect(retryDelayMs(new NetworkError("reset"), 0, policy, () => 0.5)).toBe(50);
  });
  it("gives up on a Retry-After longer than maxDelayMs", () => {
    const error = new OAuthError({ error: "temporarily_unavailable", status: 503, retryAfterMs: 5_000 });
    expect(retryDelayMs(error, 0, policy, () => 0.5)).toBeUndefined();
  });
  it("ignores Retry-After on errors that are not tokenkeep errors", () => {
    expect(retryAfterOf(Object.assign(new Error("x"), { retryAfterMs: 10 }))).toBeUndefined();
  });
});
