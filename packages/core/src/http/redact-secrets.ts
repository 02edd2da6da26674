/**
 * What every tokenkeep client does with a text a server may have built from its request (an error's
 * description, a `WWW-Authenticate` header, an echoed body), the same way in grants, pat-client and
 * astro: each credential the request carried is replaced with `[redacted]`, whichever encoder the
 * server or a proxy quoted it with.
 */

/** A letter, a digit (of any script) or `_`: what a short secret must not be part of a run of. */
const WORD = "[\\p{L}\\p{N}_]";

/** `n` in hex, `width` digits. */
const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/**
 * The source of a pattern matching `secret` read two ways, each character independently in any of
 * its forms: inside a JSON string (clear, its UTF-8 bytes percent-encoded, `+` for a space, `\u00e9`
 * or a surrogate pair, `\/`; `"`, `\` and control characters always escaped as JSON requires:
 * `\"`, `\\`, `\n`), or as plain text (clear, percent-encoded, `+` for a space). Hex digits in either
 * case. The JSON reading first, so `\\` is one JSON-escaped `\` rather than two; and kept apart, so no
 * text reads as the secret in more than two ways and matching stays linear in the text.
 */
export function secretPattern(secret: string): string {
  const chars = [...secret];
  const readings = [true, false].map((json) =>
    chars
      .map((char) => {
        const bytes = [...new TextEncoder().encode(char)].map((byte) => `%${hex(byte, 2)}`).join("");
        const units = char.replace(/[\s\S]/g, (unit) => `\\\\u${hex(unit.charCodeAt(0), 4)}`);
        const clear = json ? JSON.stringify(char).slice(1, -1) : char;
        const forms = [
          (json ? `${bytes}|${units}` : bytes).replace(
            /[a-f]/g,
            (digit) => `[${digit}${digit.toUpperCase()}]`,
          ),
          clear.replace(/[$()*+./?[\\\]^{|}]/g, "\\$&"),
        ];
        if (char === " ") forms.push("\\+");
        if (json && char === "/") forms.push("\\\\/");
        return `(?:${forms.join("|")})`;
      })
      .join(""),
  );
  const source = `(?:${readings.join("|")})`;
  // A short secret stands alone: no word character touches it on a side where its own first or last
  // character is one (a hex digit of an escape before it does not count: `%22a%22` holds `a`, and so
  // does `\u0022a\u0022`). After it, an escape starts with `%` or `\`, never a word character.
  return chars.length < 8
    ? `(?<!(?<!%.?|\\\\u.{0,3})${WORD}(?=${WORD}))${source}(?!(?<=${WORD})${WORD})`
    : source;
}

/**
 * `text` with each of `secrets` replaced by `[redacted]` wherever a server may have echoed it, each
 * character independently in clear or in one of its encodings (mixed, as an encoder that leaves some
 * characters alone makes it):
 * - as plain text: clear; its UTF-8 bytes percent-encoded, hex digits in either case
 *   (`encodeURIComponent`, a form body, Python's `quote()` keeping `/`, an encoder keeping `*`, `'`,
 *   `(`, `)`, `!`, `~` or `@`, or one encoding every byte); `+` for a space;
 * - inside a JSON string: the same, and JSON's escapes: `\"` and `\\` (always, as JSON requires them),
 *   `\/`, `\n` and other control characters, `\u00e9` (either case; a surrogate pair beyond U+FFFF).
 *
 * A secret of 8 characters or more is redacted everywhere, inside words too. A shorter one (a short
 * password) only where it stands alone, so that it does not garble the text: not inside a longer run
 * of letters, digits and `_` of any script (`"a"` leaves `invalid_grant` alone, but goes from
 * `password=a&`, `"password":"a"`, `: a.`, `%22a%22` and `\u0022a\u0022`). Secrets are tried longest first, and
 * where two occurrences overlap the one that starts first is replaced. Empty strings are ignored. Not
 * matched: double encoding (`%252B`), HTML entities, other escapes (`\x2B`, `%u00E9`).
 *
 * @param text what a server answered (an error's description, a header, a message)
 * @param secrets the credentials the request carried
 * @returns `text`, redacted
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  // Every form of a character is at least as long (in UTF-16 units) as the character itself, so a
  // secret longer than the text cannot be in it: not compiled at all.
  const present = secrets.filter((secret) => secret && secret.length <= text.length);
  if (!present[0]) return text;
  // A caller redacts many strings with one list (every string of an error body): compiled once.
  const key = JSON.stringify(present);
  if (last?.key !== key) {
    const sources = present.sort((a, b) => b.length - a.length).map(secretPattern);
    last = { key, regex: new RegExp(sources.join("|"), "gu") };
    compiledPatterns.count++;
  }
  // `replace` starts a global regex from index 0 whatever its `lastIndex`: safe to reuse.
  return text.replace(last.regex, "[redacted]");
}

/** The pattern of the last list of secrets redacted (by content). */
let last: { readonly key: string; readonly regex: RegExp } | undefined;

/** How many patterns `redactSecrets` compiled: a seam for tests (not exported by the entry). */
export const compiledPatterns = { count: 0 };
