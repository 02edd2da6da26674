import { describe, expect, it } from "vitest";
import { isTransientError } from "../errors/failure-classification.js";
import { createThrottle, throttledError } from "./throttle.js";

describe("throttle", () => {
  it("reports the rest of an open window, then forgets it", () => {
    const throttle = createThrottle(10);
    throttle.open("k", 1_000);
    expect(throttle.remainingMs("k", 400)).toBe(600);
    expect(throttle.remainingMs("other", 400)).toBe(0);
    expect(throttle.remainingMs("k", 1_000)).toBe(0);
  });
  it("holds at most its bound of windows", () => {
    const throttle = createThrottle(2);
    throttle.open("a", 100);
    throttle.open("b", 100);
    throttle.open("c", 100);
    expect(["a", "b", "c"].map((key) => throttle.remainingMs(key, 0))).toEqual([0, 100, 100]);
  });
  it("fails callers with a transient error carrying the wait", () => {
    const error = throttledError(2_500);
    expect(error).toMatchObject({ code: "ERR_TOKENKEEP_THROTTLED", retryAfterMs: 2_500 });
    expect(isTransientError(error)).toBe(true);
    expect(error.message).toContain("3 s");
  });
});
