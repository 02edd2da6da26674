// Text from a PAT server (owners, roles, error messages) made safe to print on a terminal: what the
// `tokenkeep-pat` command prints, exported so that scripts printing records do the same. No imports:
// the client entry stays free of the CLI's libraries.

/**
 * What a terminal acts on, does not show, or shows in another place than where it stands: controls
 * (C0, DEL, C1), format characters (the bidi embeddings, overrides and isolates U+202A-U+202E and
 * U+2066-U+2069, the marks U+200E, U+200F and U+061C, zero-width spaces and joiners U+200B-U+200D and
 * U+2060, the BOM U+FEFF, the soft hyphen, tag characters U+E0000-U+E007F ...), the line and paragraph
 * separators U+2028 and U+2029, the other default-ignorable code points (Hangul fillers, variation
 * selectors ...) and unpaired surrogates.
 */
const UNSAFE = "[\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{Default_Ignorable_Code_Point}\\p{Cs}]";

/** Scripts whose spelling uses the zero-width non-joiner and joiner between two of their letters. */
const JOINER_SCRIPTS = [
  "Arabic", // Persian and Urdu: حسن‌زاده, where U+200C keeps two letters unjoined
  "Syriac",
  "Nko",
  "Mongolian",
  "Devanagari", // and the other Indic scripts: after a virama, a half form or a visible virama
  "Bengali",
  "Gurmukhi",
  "Gujarati",
  "Oriya",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Sinhala",
];
const EMOJI = "\\p{Extended_Pictographic}\\uFE0F?\\p{Emoji_Modifier}?";

/**
 * Where one of those characters is part of text as it is written, and shows as such: a joiner between
 * two letters of a script that spells with it, an emoji's presentation selector and ZWJ sequence
 * (👩‍💻, ❤️), a keycap (1️⃣), a subdivision flag's tag characters (🏴 then tags then U+E007F), a Han
 * character's ideographic variation selector (a name's own glyph) and a Mongolian free variation
 * selector. Kept as it is by {@link printable}; the same character anywhere else is escaped
 * ({@link terminalJson} escapes them all).
 */
const KEPT = [
  ...JOINER_SCRIPTS.map((script) => `(?<=\\p{scx=${script}})[\\u200C\\u200D](?=\\p{scx=${script}})`),
  "\\u{1F3F4}[\\u{E0020}-\\u{E007E}]+\\u{E007F}", // before the emoji: the black flag is one too
  "[0-9#*]\\uFE0F\\u20E3",
  `${EMOJI}(?:\\u200D${EMOJI})*`,
  "\\p{sc=Han}[\\u{E0100}-\\u{E01EF}]",
  "(?<=\\p{sc=Mongolian})[\\u180B-\\u180D\\u180F]",
];
const SHOWN = new RegExp(`${KEPT.join("|")}|(${UNSAFE})`, "gu");
const EVERY_UNSAFE = new RegExp(UNSAFE, "gu");

/** `\u` and 4 hex digits per UTF-16 code unit of `char` (a surrogate pair beyond U+FFFF), as JSON writes them. */
function unitEscapes(char: string): string {
  let escaped = "";
  for (let i = 0; i < char.length; i++) escaped += `\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return escaped;
}

/**
 * `text` safe to print on a terminal, as the `tokenkeep-pat` command prints a server's text: every
 * control character (C0 such as `\r`, `\n` and ESC, DEL, C1), every invisible format character (bidi
 * overrides and isolates, zero-width spaces and joiners, the BOM, tag characters ...), the line and
 * paragraph separators, every other default-ignorable code point and every unpaired surrogate is
 * written as a visible escape: `\u001b`, `\u202e`, or `\u{e0041}` beyond U+FFFF. So a server's text
 * (an owner, a role, an error message) cannot move the cursor, rewrite a row, change the terminal's
 * state, reorder what is shown around it ("Trojan Source") or hide characters that make two owners
 * differ. Everything else is kept as it is, `\` included, and so is such a character where the text is
 * written with it and it shows: a joiner inside a Persian or Hindi word, an emoji sequence, a flag, a
 * Han character's variation selector. So a text that holds an escape's characters themselves (`\u202e`
 * typed as six characters) prints as that character does: to tell two such texts apart, print them
 * with {@link terminalJson}, where a typed `\` is `\\`.
 */
export function printable(text: string): string {
  return text.replace(SHOWN, (match, unsafe: string | undefined) => {
    if (!unsafe) return match;
    const code = unsafe.codePointAt(0) ?? 0;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : unitEscapes(unsafe);
  });
}

/**
 * `value` as JSON (indented by `space`) that a terminal shows as it is: the characters
 * {@link printable} escapes, and those it keeps in a word or an emoji too, are written as JSON's `\u`
 * escapes (a surrogate pair beyond U+FFFF), which `JSON.parse` reads back to the same value: two owners
 * that print alike (a joiner between Persian letters that do not join anyway, or a text that holds an
 * escape's six characters) differ here. `JSON.stringify`
 * alone escapes only C0 controls and unpaired surrogates; it would print DEL, C1 controls and bidi
 * overrides raw.
 */
export function terminalJson(value: unknown, space?: number): string {
  // A raw newline is the indentation's (JSON.stringify writes one inside a string as `\n`); every other
  // such character stands inside a string, where its escape means it.
  return (JSON.stringify(value, null, space) ?? "null").replace(EVERY_UNSAFE, (char) =>
    char === "\n" ? char : unitEscapes(char),
  );
}
