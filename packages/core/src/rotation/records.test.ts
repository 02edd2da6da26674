import { describe, expect, it } from "vitest";
import { decodeMarker } from "./records.js";

describe("decodeMarker: in-doubt markers across versions", () => {
  it("keeps verifyFailedAt and checkedAt when numeric, and reads older or newer markers as in doubt", () => {
    expect(decodeMarker({ state: "in-doubt", at: 1, checkedAt: 2, verifyFailedAt: 2 })).toEqual({
      state: "in-doubt",
      at: 1,
      checkedAt: 2,
      verifyFailedAt: 2,
    });
    // Written by an older version: no verifyFailedAt, so the verifier may be asked.
    expect(decodeMarker({ state: "in-doubt", at: 1, checkedAt: 2 })).toEqual({
      state: "in-doubt",
      at: 1,
      checkedAt: 2,
    });
    // A field of the wrong type, or one this version does not know, is dropped; the state stays.
    expect(decodeMarker({ state: "in-doubt", at: 1, verifyFailedAt: "x", later: true })).toEqual({
      state: "in-doubt",
      at: 1,
    });
  });
});

describe("decodeMarker: a Retry-After window", () => {
  it("keeps waitUntil on a failed marker when numeric; without it the marker is a plain failure", () => {
    const failure = { error: "temporarily_unavailable", status: 503 };
    expect(decodeMarker({ state: "failed", at: 1, failure, waitUntil: 5 })).toMatchObject({ waitUntil: 5 });
    expect(decodeMarker({ state: "failed", at: 1, failure, waitUntil: "5" })).not.toHaveProperty("waitUntil");
    expect(decodeMarker({ state: "failed", at: 1, failure })).not.toHaveProperty("waitUntil");
  });
});
