/**
 * Assertions on secret values (tokens, refresh tokens, PATs, client secrets, session cookies) whose
 * failure message never holds the values: vitest's `expect(a).toBe(b)` prints both sides, so a
 * failing comparison of two tokens would put them in the CI log (and fail the closing no-secret
 * scan for the wrong reason). A failure here names `what` and shows each value's length and the
 * first 12 hex digits of its SHA-256, which tell two values apart without revealing either.
 *
 * Self-contained like `secret-registry.ts` (Node's `crypto` only, no test runner), so any package's
 * tests import it by path (`../../../test/reliability/src/secret-assert.js`); a thrown `Error`
 * fails a test in any runner.
 */
import { createHash } from "node:crypto";

/** Length and SHA-256 prefix of a value: enough to compare two runs' values, nothing to reuse. */
export function fingerprint(value: unknown): string {
  if (typeof value !== "string") return value === undefined ? "undefined" : `a ${typeof value}`;
  const hash = createHash("sha256").update(value).digest("hex").slice(0, 12);
  return `${value.length} chars, sha256 ${hash}…`;
}

/**
 * Fails unless `actual` and `expected` are the same string (or the same list of strings), saying
 * which differ by fingerprint only.
 * @param what what the values are ("the refresh token after a failed rotation")
 */
export function expectSameSecret(
  actual: unknown,
  expected: string | readonly string[] | undefined,
  what: string,
): void {
  const list = (value: unknown) => (Array.isArray(value) ? value : [value]) as unknown[];
  const [a, b] = [list(actual), list(expected)];
  if (a.length === b.length && a.every((item, index) => item === b[index])) return;
  const show = (items: unknown[]) => items.map(fingerprint).join("; ");
  throw new Error(`${what}: expected the same secret, got [${show(a)}], expected [${show(b)}]`);
}

/**
 * Fails if `actual` equals `other` (a token that should have been replaced), saying so by
 * fingerprint only.
 * @param what what the values are ("the rotated refresh token")
 */
export function expectOtherSecret(actual: string | undefined, other: string | undefined, what: string): void {
  if (actual !== other) return;
  throw new Error(`${what}: expected a different secret, got the same one (${fingerprint(actual)})`);
}

/**
 * Fails unless `actual` is a string matching `pattern`, showing the pattern and the value's
 * fingerprint, never the value.
 * @param what what the value is ("the bootstrap PAT")
 */
export function expectSecretMatches(actual: string | undefined, pattern: RegExp, what: string): void {
  if (typeof actual === "string" && pattern.test(actual)) return;
  throw new Error(`${what}: expected a secret matching ${pattern}, got ${fingerprint(actual)}`);
}
