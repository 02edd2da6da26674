/**
 * Assertions on secret values (tokens, refresh tokens, PATs, client secrets, session cookies) whose
 * failure message never holds the values: vitest's `expect(a).toBe(b)` prints both sides, and
 * `expect(text).not.toContain(secret)` the text and the secret, so a failing check on a token would
 * put it in the CI log (and fail the closing no-secret scan for the wrong reason). A failure here
 * names `what` and shows each value's length and the first 12 hex digits of its SHA-256, which tell
 * two values apart without revealing either, or a label the caller gives.
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

/** How much of the searched text a failure shows on each side of a secret (after redaction). */
const CONTEXT_CHARS = 32;

/** Characters a token may be made of: what a pattern's match is widened over before it is hidden. */
const TOKEN_CHAR = /[\w.~+/=%-]/;

/**
 * Fails if any of `secrets` occurs in `text`: `expect(text).not.toContain(secret)` for each, whose
 * failure would print the text and the secret. This one's message names `what`, each secret found (its
 * label, else its fingerprint), how often and at which offsets, and the text around the first
 * occurrence with every occurrence of every given secret replaced by `[secret]`: never a secret, nor
 * any part of one that the text holds whole.
 *
 * `text` is searched as: a string, as it is; an `Error`, as `String(error)`, its `stack` and its
 * `JSON.stringify` joined by newlines (what a log line, a printed stack and a JSON logger would show;
 * to check one of them only, pass that string); anything else, as its `JSON.stringify` (a value JSON
 * cannot serialise throws). `undefined` and `null` fail: a leak check on nothing is a broken test.
 *
 * A secret is a string (an empty one fails: it is in every text, as `toContain("")` says), or a
 * `RegExp` for secrets known by their shape (`/pat_[A-Za-z0-9]{21}\./`), which fails where it matches
 * something (as `not.toMatch` would, but for a pattern matching only the empty string);
 * a match is hidden together with the run of token characters (`[\w.~+/=%-]`) it touches, so a
 * pattern matching a prefix (`/pat_/`) hides the token it starts. Offsets count UTF-16 code units of
 * the searched text.
 * @param text the text that must not hold the secrets (an error's JSON, a CLI's output, a header)
 * @param secrets one secret, a list, or labelled secrets (`{ "the admin PAT": pat }`), whose labels
 *   the failure uses instead of fingerprints
 * @param what what the text is ("the error's JSON", "the CLI's stderr")
 */
export function expectNoSecretIn(
  text: unknown,
  secrets: string | RegExp | readonly (string | RegExp)[] | Readonly<Record<string, string | RegExp>>,
  what: string,
): void {
  const searched = searchedText(text, what);
  const entries = labelled(secrets, what);
  const found = entries.filter(([, secret]) => matches(searched, secret).length > 0);
  if (found.length === 0) return;
  const hidden = hiddenRanges(searched, entries);
  const lines = found.map(([label, secret]) => {
    const at = matches(searched, secret).map(([start]) => start);
    const first = at[0]!;
    const offsets = at.slice(0, 5).join(", ") + (at.length > 5 ? ", …" : "");
    const times = at.length === 1 ? "once" : `${at.length} times`;
    return `  ${label} ${times}, at offset ${offsets}: ${context(searched, first, hidden)}`;
  });
  throw new Error(`${what}: holds a secret (${searched.length} chars searched)\n${lines.join("\n")}`);
}

function searchedText(text: unknown, what: string): string {
  if (typeof text === "string") return text;
  if (text === undefined || text === null) throw new Error(`${what}: expected a text to search, got ${text}`);
  if (text instanceof Error) return [String(text), text.stack ?? "", JSON.stringify(text)].join("\n");
  return JSON.stringify(text);
}

function labelled(
  secrets: string | RegExp | readonly (string | RegExp)[] | Readonly<Record<string, string | RegExp>>,
  what: string,
): [label: string, secret: string | RegExp][] {
  const show = (secret: string | RegExp) =>
    typeof secret === "string" ? fingerprint(secret) : String(secret);
  const entries: [string, string | RegExp][] =
    typeof secrets === "string" || secrets instanceof RegExp
      ? [[show(secrets), secrets]]
      : Array.isArray(secrets)
        ? secrets.map((secret: string | RegExp) => [show(secret), secret])
        : Object.entries(secrets).map(([label, secret]) => [`${label} (${show(secret)})`, secret]);
  for (const [label, secret] of entries) {
    if (typeof secret === "string" ? secret === "" : !(secret instanceof RegExp)) {
      throw new Error(`${what}: ${label} is not a secret to look for (an empty string or not a string)`);
    }
  }
  return entries;
}

/**
 * Where `secret` occurs in `text`: a string's every occurrence, overlapping ones included; a pattern's
 * non-empty matches, each widened over the token characters it touches.
 */
function matches(text: string, secret: string | RegExp): [start: number, end: number][] {
  const found: [number, number][] = [];
  if (typeof secret === "string") {
    for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) {
      found.push([at, at + secret.length]);
    }
    return found;
  }
  const pattern = new RegExp(secret.source, secret.flags.includes("g") ? secret.flags : `${secret.flags}g`);
  for (const match of text.matchAll(pattern)) {
    if (match[0] === "") continue;
    let [start, end] = [match.index, match.index + match[0].length];
    while (start > 0 && TOKEN_CHAR.test(text[start - 1]!)) start--;
    while (end < text.length && TOKEN_CHAR.test(text[end]!)) end++;
    found.push([start, end]);
  }
  return found;
}

/** Per character of `text`: whether some secret covers it. */
function hiddenRanges(text: string, entries: [string, string | RegExp][]): Uint8Array {
  const hidden = new Uint8Array(text.length);
  for (const [, secret] of entries)
    for (const [start, end] of matches(text, secret)) hidden.fill(1, start, end);
  return hidden;
}

/** The text around `at`, each run of hidden characters shown as `[secret]`, quoted as JSON. */
function context(text: string, at: number, hidden: Uint8Array): string {
  let end = at;
  while (end < text.length && hidden[end]) end++;
  const from = Math.max(0, at - CONTEXT_CHARS);
  const to = Math.min(text.length, end + CONTEXT_CHARS);
  let shown = ""; // a secret the window cuts shows as `[secret]` too
  for (let index = from; index < to; index++) {
    if (!hidden[index]) shown += text[index];
    else if (index === from || !hidden[index - 1]) shown += "[secret]";
  }
  return `${from > 0 ? "…" : ""}${JSON.stringify(shown)}${to < text.length ? "…" : ""}`;
}
