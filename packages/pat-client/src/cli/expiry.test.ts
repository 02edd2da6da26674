import { describe, expect, it } from "vitest";
import { checkedExpiry } from "./expiry";

const now = 1_800_000_000; // 2027-01-15T08:00:00Z

describe("checkedExpiry", () => {
  it("turns --expires-in into a time from now and passes a future --expires-at", () => {
    expect(checkedExpiry(undefined, 60, now)).toEqual({ expiresAt: now + 60 });
    expect(checkedExpiry(now + 1, undefined, now)).toEqual({ expiresAt: now + 1 });
    expect(checkedExpiry(undefined, undefined, now)).toEqual({ expiresAt: undefined });
  });

  it("refuses what would issue a useless token, saying what was probably meant", () => {
    expect(checkedExpiry(undefined, 0, now)).toMatchObject({
      problem: expect.stringMatching(/^--expires-in must be longer than 0/),
    });
    expect(checkedExpiry((now + 60) * 1000, undefined, now)).toMatchObject({
      problem: expect.stringContaining(`did you mean --expires-at ${now + 60} (2027-01-15T08:01:00Z)?`),
    });
    expect(checkedExpiry(now, undefined, now)).toMatchObject({
      problem: expect.stringContaining("in the past"),
    });
    expect(checkedExpiry(3600, undefined, now)).toMatchObject({
      problem: expect.stringContaining("did you mean --expires-in 3600s (2027-01-15T09:00:00Z)?"),
    });
    expect(checkedExpiry(now + 1, 60, now)).toMatchObject({ problem: expect.stringContaining("not both") });
  });
});
