/**
 * The secret assertions other packages' tests use: they pass and fail as `toBe`, `not.toBe` and
 * `toMatch` would, and a failure's message never holds either value.
 */
import { describe, expect, it } from "vitest";
import { expectOtherSecret, expectSameSecret, expectSecretMatches, fingerprint } from "../src/secret-assert";
import { mintSecret } from "../src/secret-registry";

function failure(assertion: () => void): string {
  try {
    assertion();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the assertion to fail");
}

describe("secret assertions", () => {
  const one = mintSecret("probe");
  const two = mintSecret("probe");

  it("compare as toBe, not.toBe and toMatch would", () => {
    expect(() => expectSameSecret(one, `${one}`, "same")).not.toThrow();
    expect(() => expectSameSecret([one, two], [one, two], "lists")).not.toThrow();
    expect(() => expectOtherSecret(one, two, "other")).not.toThrow();
    expect(() => expectOtherSecret(two, undefined, "other")).not.toThrow();
    expect(() => expectSecretMatches(one, /^s_/, "prefix")).not.toThrow();
  });

  it("fail naming what and fingerprints, never the values", () => {
    const messages = [
      failure(() => expectSameSecret(one, two, "the access token")),
      failure(() => expectSameSecret([one], [one, two], "the pairs")),
      failure(() => expectSameSecret(undefined, two, "the refresh token")),
      failure(() => expectOtherSecret(one, one, "the rotated token")),
      failure(() => expectSecretMatches(one, /^pat_/, "the PAT")),
      failure(() => expectSecretMatches(undefined, /^pat_/, "the PAT")),
    ];
    expect(messages[0]).toMatch(
      /^the access token: expected the same secret, got \[\d+ chars, sha256 [0-9a-f]{12}…\]/,
    );
    expect(messages[3]).toBe(
      `the rotated token: expected a different secret, got the same one (${fingerprint(one)})`,
    );
    expect(messages[4]).toMatch(/^the PAT: expected a secret matching \/\^pat_\/, got \d+ chars/);
    expect(messages[5]).toBe("the PAT: expected a secret matching /^pat_/, got undefined");
    for (const message of messages) {
      expect(message.includes(one) || message.includes(two), "a secret in the message").toBe(false);
    }
    expect(fingerprint(one)).not.toBe(fingerprint(two));
  });
});
