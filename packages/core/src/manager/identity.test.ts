import { describe, expect, it } from "vitest";
import { DEFAULT_IDENTITY_KEY, hashIdentityKey, identityKey } from "./identity.js";

describe("identityKey", () => {
  it("maps no identity and an empty one to the default key", () => {
    expect(identityKey(undefined)).toBe(DEFAULT_IDENTITY_KEY);
    expect(identityKey({})).toBe(DEFAULT_IDENTITY_KEY);
    expect(identityKey({ scope: undefined })).toBe(DEFAULT_IDENTITY_KEY);
  });
  it("ignores property order, scope order and duplicates, and array order", () => {
    const key = identityKey({ client: "a", scope: "read write", resource: ["https://b", "https://a"] });
    expect(
      identityKey({
        resource: ["https://a", "https://b", "https://a"],
        scope: " write read read",
        client: "a",
      }),
    ).toBe(key);
  });
  it("tells apart everything a token is parameterised by", () => {
    const keys = [
      { client: "a" },
      { client: "b" },
      { client: "a", scope: "read" },
      { client: "a", resource: ["https://a"] },
      { client: "a", subject: "alice" },
      { client: "a", subject: "1" },
      { client: "a", subject: 1 },
      { client: "a", subject: true },
      { "client,subject": "a" },
    ].map(identityKey);
    expect(new Set(keys).size).toBe(keys.length);
  });
  it("is recomputed on every call, so mutating an identity object cannot return a stale key", () => {
    const identity: Record<string, string> = { client: "a" };
    const before = identityKey(identity);
    identity.client = "b";
    expect(identityKey(identity)).not.toBe(before);
  });
});

describe("hashIdentityKey", () => {
  it("is the SHA-256 hex of the key", async () => {
    expect(await hashIdentityKey("")).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(await hashIdentityKey('{"client":"a"}')).toMatch(/^[0-9a-f]{64}$/);
  });
});
