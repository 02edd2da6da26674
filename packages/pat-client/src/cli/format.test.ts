import type { PatRecord } from "@tokenkeep/pat-protocol";
import { describe, expect, it } from "vitest";
import { printable, terminalJson } from "../terminal-text";
import { describeExpiry, recordStatus, recordsTable, relativeTime } from "./format";

const NOW = 1_800_000_000;
const DAY = 86_400;

describe("relativeTime", () => {
  it("speaks in whole units, rounded to the nearest one", () => {
    expect(relativeTime(NOW + 29 * DAY + 5, NOW)).toBe("in 29 days");
    expect(relativeTime(NOW + 7 * DAY - 1, NOW)).toBe("in 7 days");
    expect(relativeTime(NOW + 30 * DAY, NOW)).toBe("in 30 days");
    expect(relativeTime(NOW + 60 * DAY, NOW)).toBe("in 2 months");
    expect(relativeTime(NOW - 2 * DAY - 13 * 3_600, NOW)).toBe("3 days ago");
    expect(relativeTime(NOW - 3 * 3_600 - 59, NOW)).toBe("3 hours ago");
    expect(relativeTime(NOW - 3 * 3_600 - 40 * 60, NOW)).toBe("4 hours ago");
    expect(relativeTime(NOW + 80, NOW)).toBe("in 1 minute");
    expect(relativeTime(NOW + 90, NOW)).toBe("in 2 minutes");
    expect(relativeTime(NOW + 100 * DAY, NOW)).toBe("in 3 months");
    expect(relativeTime(NOW - 800 * DAY, NOW)).toBe("2 years ago");
    expect(relativeTime(NOW, NOW)).toBe("now");
  });
});

describe("record descriptions", () => {
  const record: PatRecord = {
    tokenId: "a".repeat(21),
    owner: "ci@example.com",
    isAdmin: false,
    roles: ["deploy"],
    createdAt: NOW - 2 * DAY,
    lastUsedAt: null,
    expiresAt: NOW + 29 * DAY + 60,
    revokedAt: null,
  };

  it("describes expiry and status with the server's rule (expired at expiresAt <= now)", () => {
    expect(describeExpiry(record.expiresAt, NOW)).toBe("expires in 29 days");
    expect(describeExpiry(NOW, NOW)).toBe("expired now");
    expect(describeExpiry(null, NOW)).toBe("never expires");
    expect(recordStatus(record, NOW)).toBe("active");
    expect(recordStatus({ ...record, expiresAt: NOW }, NOW)).toBe("expired");
    expect(recordStatus({ ...record, revokedAt: NOW - 1 }, NOW)).toBe("revoked");
  });

  it("renders a table without colour codes", () => {
    const table = recordsTable([record], NOW);
    expect(table).toContain("ci@example.com");
    expect(table).toContain("expires in 29 days");
    expect(table).toContain("2 days ago");
    expect(table).not.toContain("\u001b[");
  });
});

describe("printable", () => {
  it("escapes C0 controls, DEL and C1 controls", () => {
    expect(printable("a\r\nb\tc\u001b[2Kd\u007fe\u0085f\u009b31mg\u0000")).toBe(
      "a\\u000d\\u000ab\\u0009c\\u001b[2Kd\\u007fe\\u0085f\\u009b31mg\\u0000",
    );
    const plain = "ops@example.com, Zoë, 漢字, 🚀, \u00a0nbsp, CORP\\alice, עברית, العربية, e\u0301";
    expect(printable(plain)).toBe(plain);
  });

  it("escapes bidi controls, invisible characters and unpaired surrogates, visibly", () => {
    const cases: [string, string][] = [
      // Embeddings and overrides, isolates, and the marks: what reorders a line ("Trojan Source").
      ["a\u202ab\u202bc\u202cd\u202de\u202ef", "a\\u202ab\\u202bc\\u202cd\\u202de\\u202ef"],
      ["a\u2066b\u2067c\u2068d\u2069e", "a\\u2066b\\u2067c\\u2068d\\u2069e"],
      ["\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"],
      // Zero width: spaces, joiners, the word joiner, the BOM, the soft hyphen, a Hangul filler.
      [
        "ad\u200bmin\u200c\u200d\u2060\ufeff\u00ad\u3164",
        "ad\\u200bmin\\u200c\\u200d\\u2060\\ufeff\\u00ad\\u3164",
      ],
      // A variation selector after a letter (invisible), line and paragraph separators.
      ["admin\ufe0f", "admin\\ufe0f"],
      ["a\u2028b\u2029c", "a\\u2028b\\u2029c"],
      // Tag characters (beyond U+FFFF: one escape for the code point), an unpaired surrogate of each kind.
      ["ok\u{e0041}\u{e0042}", "ok\\u{e0041}\\u{e0042}"],
      ["x\ud800y\udc00z", "x\\ud800y\\udc00z"],
    ];
    for (const [text, shown] of cases) expect(printable(text), JSON.stringify(text)).toBe(shown);
  });

  it("keeps the joiners and selectors a legitimate owner is written with; JSON escapes them all", () => {
    const written = [
      "حسن\u200cزاده", // a Persian surname: U+200C keeps the two parts unjoined
      "क्\u200dष क्\u200cष", // Hindi: after a virama, a half form or a visible virama
      "ᠠ\u180bᠢ", // Mongolian, a free variation selector
      "👩\u200d💻 👨\u200d👩\u200d👧 ❤\ufe0f 👍🏽 1\ufe0f\u20e3", // emoji ZWJ sequences, selectors, a keycap
      "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}", // the flag of Scotland: tag characters
      "葛\u{e0100}", // a name's own glyph of a Han character (an ideographic variation selector)
    ];
    for (const text of written) {
      expect(printable(text)).toBe(text);
      // Exact, and every invisible character visible: where two owners that print alike differ.
      expect(JSON.parse(terminalJson(text))).toBe(text);
      expect(terminalJson(text)).not.toMatch(/[\p{Cf}\p{Default_Ignorable_Code_Point}]/u);
    }
    // The same characters where nothing is written with them: escaped, so two owners cannot look alike.
    const hidden: [string, string][] = [
      ["ad\u200cmin", "ad\\u200cmin"],
      ["حسن\u200c", "حسن\\u200c"],
      ["\u200dزاده", "\\u200dزاده"],
      ["admin\u{e0041}", "admin\\u{e0041}"],
      ["1\ufe0f", "1\\ufe0f"],
      ["a\u{e0100}", "a\\u{e0100}"],
    ];
    for (const [text, shown] of hidden) expect(printable(text), JSON.stringify(text)).toBe(shown);
  });

  it("makes a table that reorders or hides nothing: what the records hold is what it shows", () => {
    const base = { isAdmin: false, createdAt: NOW, lastUsedAt: null, expiresAt: null, revokedAt: null };
    // Displayed raw, the override reverses the rest of the row: "moc.elpmaxe@..." reads as an e-mail.
    const table = recordsTable(
      [
        { ...base, tokenId: "a".repeat(21), owner: "eve\u202emoc.elpmaxe@nimda", roles: ["ro\u2066le"] },
        { ...base, tokenId: "b".repeat(21), owner: "admin\u200b", roles: [] },
      ],
      NOW,
    );
    expect(table).toContain("eve\\u202emoc.elpmaxe@nimda");
    expect(table).toContain("ro\\u2066le");
    expect(table).toContain("admin\\u200b");
    expect(table).not.toMatch(/[\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u);
  });
});

describe("terminalJson", () => {
  it("escapes what printable escapes, the JSON way, and parses back to the same value", () => {
    const value = {
      owner: "eve\u202emoc\u0085\u007f\u200b\u{e0041}",
      roles: ["a\ud800", "line\nbreak", "é🚀"],
      n: 1,
    };
    for (const space of [undefined, 2]) {
      const text = terminalJson(value, space);
      expect(JSON.parse(text)).toEqual(value);
      expect(text).toContain("eve\\u202emoc\\u0085\\u007f\\u200b\\udb40\\udc41");
      expect(text).toContain("é🚀");
      // Nothing but the indentation's newlines is left raw.
      expect(text.replaceAll("\n", "")).not.toMatch(
        /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u,
      );
    }
    expect(terminalJson({ a: 1 }, 2)).toBe(JSON.stringify({ a: 1 }, null, 2));
  });

  it("tells apart two owners that printable shows alike: a character and its escape typed out", () => {
    const override = "eve\u202e";
    const typed = "eve\\u202e";
    expect(printable(override)).toBe(printable(typed)); // as printable's TSDoc says
    expect(terminalJson(override)).toBe('"eve\\u202e"');
    expect(terminalJson(typed)).toBe('"eve\\\\u202e"');
  });

  it("keeps a crafted owner or role from rewriting the table: one line per record", () => {
    const base = { isAdmin: false, createdAt: NOW, lastUsedAt: null, expiresAt: null, revokedAt: null };
    const table = recordsTable(
      [
        { ...base, tokenId: "a".repeat(21), owner: "evil\r\u001b[2K\u001b[1Aroot", roles: ["x\ny"] },
        { ...base, tokenId: "b".repeat(21), owner: "fine", roles: ["\u009b2J"] },
      ],
      NOW,
    );
    const lines = table.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain("evil\\u000d\\u001b[2K\\u001b[1Aroot");
    expect(lines[1]).toContain("x\\u000ay");
    expect(lines[2]).toContain("\\u009b2J");
    expect(printable(table.replaceAll("\n", ""))).toBe(table.replaceAll("\n", "")); // nothing raw left
  });
});
