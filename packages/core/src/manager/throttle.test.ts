import { describe, expect, it } from "vitest";
import { isTransientError } from "../errors/failure-classification.js";
import { throttledError } from "./throttle.js";

describe("throttle", () => {
  it("fails callers with a transient error carrying the wait", () => {
    const error = throttledError(2_500);
    expect(error).toMatchObject({ code: "ERR_TOKENKEEP_THROTTLED", retryAfterMs: 2_500 });
    expect(isTransientError(error)).toBe(true);
    expect(error.message).toContain("3 s");
  });
});
