import { describe, expect, it } from "vitest";
import { parseRetryAfter } from "./retry-after.js";

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-11-30T10:00:00Z");

  it("reads seconds", () => {
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter(" 120 ", now)).toBe(120_000);
  });

  it("reads an HTTP date relative to now, never negative", () => {
    expect(parseRetryAfter("Mon, 30 Nov 2026 10:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfter("Mon, 30 Nov 2026 09:00:00 GMT", now)).toBe(0);
  });

  it("ignores absent and unreadable values", () => {
    for (const value of [null, undefined, "", "soon", "-1", "1.5", "12abc"]) {
      expect(parseRetryAfter(value, now), String(value)).toBeUndefined();
    }
  });
});
