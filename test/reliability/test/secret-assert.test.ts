/**
 * The secret assertions other packages' tests use: they pass and fail as `toBe`, `not.toBe`,
 * `toMatch` and `not.toContain` would, and a failure's message never holds a secret.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SCALE } from "../src/mode";
import {
  expectNoSecretIn,
  expectOtherSecret,
  expectSameSecret,
  expectSecretMatches,
  fingerprint,
} from "../src/secret-assert";
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

describe("expectNoSecretIn", () => {
  const one = mintSecret("probe");
  const two = mintSecret("probe");

  it("passes when no secret occurs, as not.toContain would", () => {
    expect(() => expectNoSecretIn(`nothing here: ${one.slice(1)}`, one, "a string")).not.toThrow();
    expect(() => expectNoSecretIn("", [one, two], "an empty text")).not.toThrow();
    expect(() => expectNoSecretIn({ a: [1, "b"] }, { "the token": one }, "an object")).not.toThrow();
    expect(() => expectNoSecretIn("pat-abc", /pat_/, "a pattern")).not.toThrow();
    // An Error is searched as its string, stack and JSON: not its non-enumerable properties.
    const error = Object.defineProperty(new Error("bad answer"), "body", { value: one, enumerable: false });
    expect(() => expectNoSecretIn(error, one, "an error")).not.toThrow();
  });

  it("fails when any secret occurs, wherever an Error or a value would show it", () => {
    expect(() => expectNoSecretIn(`a${one}b`, [two, one], "a string")).toThrow(/^a string: holds a secret/);
    expect(() => expectNoSecretIn(new Error(`bad ${one}`), one, "the message")).toThrow(/^the message:/);
    expect(() => expectNoSecretIn(Object.assign(new Error("x"), { two }), two, "a property")).toThrow();
    expect(() => expectNoSecretIn({ deep: [{ one }] }, one, "an object")).toThrow(/^an object:/);
    expect(() => expectNoSecretIn(`x pat_abc`, /pat_/, "a pattern")).toThrow(/^a pattern:/);
    // A broken check fails rather than passing on nothing.
    expect(() => expectNoSecretIn(undefined, one, "nothing")).toThrow("nothing: expected a text to search");
    expect(() => expectNoSecretIn("text", ["", one], "empty")).toThrow(/is not a secret to look for/);
  });

  it("agrees with not.toContain on random texts, and never shows the secret", () => {
    // Letters the message's own words and fingerprints never use, so the secret cannot show by chance.
    const unit = fc.constantFrom(..."QJKVWXqjkvwx");
    const secret = fc.string({ unit, minLength: 6, maxLength: 12 });
    const scenario = secret.chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.array(
          fc.oneof(fc.constant(s), fc.string({ unit: fc.oneof(unit, fc.constantFrom(...'ab \n"')) })),
          {
            maxLength: 8,
          },
        ),
      ),
    );
    fc.assert(
      fc.property(scenario, ([s, parts]) => {
        const text = parts.join("");
        const vitest = messageOf(() => expect(text).not.toContain(s));
        const ours = messageOf(() => expectNoSecretIn(text, s, "the text"));
        expect(ours === undefined).toBe(vitest === undefined);
        if (ours !== undefined) {
          expect(ours.includes(s)).toBe(false);
          expect(ours).toContain(`at offset ${text.indexOf(s)}`);
        }
      }),
      { numRuns: SCALE.fuzzRuns },
    );
  });

  it("fails saying which secret, where, and the text around it with every secret hidden", () => {
    const text = `GET /x HTTP/1.1\nauthorization: Bearer ${one}\ncookie: sid=${two}; theme=dark; again=${one}`;
    const message = messageOf(() =>
      expectNoSecretIn(text, { "the access token": one, "the cookie": two }, "the log"),
    )!;
    const lines = message.split("\n");
    expect(lines[0]).toBe(`the log: holds a secret (${text.length} chars searched)`);
    expect(lines[1]).toBe(
      `  the access token (${fingerprint(one)}) 2 times, at offset ${text.indexOf(one)}, ${text.lastIndexOf(one)}: ` +
        `…" HTTP/1.1\\nauthorization: Bearer [secret]\\ncookie: sid=[secret]"…`, // the window ends in the cookie
    );
    expect(lines[2]).toBe(
      `  the cookie (${fingerprint(two)}) once, at offset ${text.indexOf(two)}: ` +
        `…"[secret]\\ncookie: sid=[secret]; theme=dark; again=[secret]"…`, // the window starts in the token
    );
    // Neither secret, nor the text around one unredacted, nor a piece of either at the window's edge.
    for (const secret of [one, two]) {
      expect(message.includes(secret)).toBe(false);
      for (const piece of [secret.slice(0, 8), secret.slice(-8)]) expect(message.includes(piece)).toBe(false);
    }

    // Unlabelled, the fingerprint names it.
    const plain = messageOf(() => expectNoSecretIn(`x${one}`, one, "the body"))!;
    expect(plain).toBe(
      `the body: holds a secret (${one.length + 1} chars searched)\n  ${fingerprint(one)} once, at offset 1: "x[secret]"`,
    );
  });

  it("hides a secret overlapping another, and a whole token where a pattern matches its prefix", () => {
    const jwt = `${"h".repeat(20)}.${"p".repeat(20)}.${one}`;
    const signature = jwt.split(".")[2]!;
    const overlapped = messageOf(() => expectNoSecretIn(`token=${jwt}&x=1`, [signature, jwt], "the form"))!;
    expect(overlapped).toContain(`"token=[secret]&x=1"`);
    expect(overlapped).not.toContain("hhhh");

    const pat = "pat_AbCdEfGhIjKlMnOpQrStU.c2VjcmV0LXBhcnQ=";
    const shaped = messageOf(() => expectNoSecretIn(`admin PAT: ${pat}\nnext`, /pat_/, "stdout"))!;
    expect(shaped).toBe(
      `stdout: holds a secret (${pat.length + 16} chars searched)\n  /pat_/ once, at offset 11: "admin PAT: [secret]\\nnext"`,
    );
  });

  it("cuts the context at 32 characters on each side, never through a secret", () => {
    const text = `${"a".repeat(40)}${one}${"b".repeat(28)}${two}${"c".repeat(40)}`;
    const message = messageOf(() => expectNoSecretIn(text, [one, two], "the text"))!;
    // The window around `one` ends 4 characters into `two`: those show as `[secret]` too.
    expect(message).toContain(`…"${"a".repeat(32)}[secret]${"b".repeat(28)}[secret]"…`);
    expect(message.includes(two.slice(0, 4))).toBe(false);
  });
});

/** The message `assertion` fails with, or `undefined` when it passes. */
function messageOf(assertion: () => void): string | undefined {
  try {
    assertion();
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}
