import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compiledPatterns, redactSecrets, secretPattern } from "./redact-secrets.js";

/** `hex` with each letter's case flipped where `flips` has a set bit (digit i: bit i, cycling). */
function withCase(hex: string, flips: number): string {
  return [...hex]
    .map((digit, i) => ((flips >> (i % 31)) & 1 ? digit.toLowerCase() : digit.toUpperCase()))
    .join("");
}

const percent = (char: string, flips: number) =>
  [...new TextEncoder().encode(char)]
    .map((byte) => `%${withCase(byte.toString(16).padStart(2, "0"), flips)}`)
    .join("");

/** Every form a character may take: in any text, and inside a JSON string. */
function forms(char: string, json: boolean, flips: number): string[] {
  const all = [percent(char, flips)];
  if (char === " ") all.push("+");
  if (json) {
    all.push(JSON.stringify(char).slice(1, -1));
    all.push(
      char
        .split("")
        .map((unit) => `\\u${withCase(unit.charCodeAt(0).toString(16).padStart(4, "0"), flips)}`)
        .join(""),
    );
    if (char === "/") all.push("\\/");
  } else {
    all.push(char);
  }
  return all;
}

describe("redactSecrets", () => {
  // Base64 with `+`, `/` and `=`, and a space and a `*`: characters the encodings treat differently.
  const secret = "pat_AbCdEfGhIjKlMnOpQrStU.q7+/Vw0x y*Z=";

  it("removes a secret in clear, every occurrence", () => {
    expect(redactSecrets(`a ${secret} b ${secret}`, [secret])).toBe("a [redacted] b [redacted]");
  });

  it("removes a secret as a form body or a URL carried it, with hex digits in either case", () => {
    const form = new URLSearchParams({ client_secret: secret }).toString().slice("client_secret=".length);
    expect(form).toBe("pat_AbCdEfGhIjKlMnOpQrStU.q7%2B%2FVw0x+y*Z%3D"); // what the request body held
    const lower = form.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase());
    const uri = encodeURIComponent(secret);
    for (const echoed of [form, lower, uri]) {
      expect(redactSecrets(`invalid request: client_secret=${echoed}&x=1`, [secret])).toBe(
        "invalid request: client_secret=[redacted]&x=1",
      );
    }
  });

  // What other encoders a server or a proxy may have echoed the request with leave in clear.
  const password = `a+b/c= d*'()!~@"\\é😀`;
  const encoders: [string, (value: string) => string][] = [
    // Python's urllib.parse.quote(): `/` kept, the rest percent-encoded
    ["quote()", (value) => encodeURIComponent(value).replaceAll("%2F", "/")],
    // an encoder that keeps every sub-delimiter of RFC 3986 and `@`
    [
      "only what it must",
      (value) => encodeURIComponent(value).replace(/%(2[1-9A-C]|3[BD]|40)/g, decodeURIComponent),
    ],
    ["everything percent-encoded", (value) => percent(value, 0)],
    [
      "mixed hex case",
      (value) =>
        encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (hex, at) => (at % 2 ? hex.toLowerCase() : hex)),
    ],
    ["a form body", (value) => new URLSearchParams({ value }).toString().slice("value=".length)],
    ["a JSON string", (value) => JSON.stringify(value).slice(1, -1)],
    [
      "JSON, non-ASCII \\u-escaped and `/` as `\\/` (PHP)",
      (value) =>
        JSON.stringify(value)
          .slice(1, -1)
          .replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)
          .replaceAll("/", "\\/"),
    ],
    [
      "JSON of the form body",
      (value) => JSON.stringify(new URLSearchParams({ value }).toString().slice(6)).slice(1, -1),
    ],
  ];
  it.each(encoders)("removes a password echoed by %s", (_name, encode) => {
    const echoed = encode(password);
    expect(echoed).not.toBe(password);
    expect(redactSecrets(`{"error":"invalid_grant","detail":"password=${echoed}&x=1"}`, [password])).toBe(
      `{"error":"invalid_grant","detail":"password=[redacted]&x=1"}`,
    );
  });

  it("removes a secret whatever form each of its characters takes (property)", () => {
    const special = [..." +/=*'()!~@\"\\%&?#<>{}[]|^$.:;,-_\n\t\r\0"];
    const char = fc.oneof(
      fc.constantFrom(...special),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    );
    const encodedSecret = fc
      .tuple(fc.array(fc.tuple(char, fc.nat(), fc.nat()), { minLength: 1, maxLength: 24 }), fc.boolean())
      .map(([chars, json]) => ({
        secret: chars.map(([char]) => char).join(""),
        echoed: chars
          .map(([char, pick, flips]) => {
            const all = forms(char, json, flips);
            return all[pick % all.length];
          })
          .join(""),
      }));
    fc.assert(
      fc.property(encodedSecret, ({ secret, echoed }) => {
        fc.pre(!/[«»]/.test(secret));
        expect(redactSecrets(`«${echoed}»`, [secret])).toBe("«[redacted]»");
      }),
      { numRuns: 1000 },
    );
  });

  it("takes a secret that is not well-formed UTF-16 (a lone surrogate) without throwing", () => {
    const lone = "\ud800abcdefgh"; // sent, it would have been U+FFFD's bytes
    const text = `x ${lone} y ${JSON.stringify(lone)} z %EF%BF%BDabcdefgh`;
    expect(redactSecrets(text, [lone])).toBe('x [redacted] y "[redacted]" z [redacted]');
  });

  it("replaces the longer of two secrets that start at the same place whole, and ignores empty ones", () => {
    expect(redactSecrets("x hunter2-and-more y", ["hunter2", "hunter2-and-more", ""])).toBe("x [redacted] y");
    expect(redactSecrets("nothing to hide", [secret, ""])).toBe("nothing to hide");
    expect(redactSecrets("nothing to hide", [])).toBe("nothing to hide");
  });

  it("redacts a secret of 8 characters or more everywhere, even inside a word", () => {
    expect(redactSecrets("mypassword123", ["password1"])).toBe("my[redacted]23");
    expect(redactSecrets("xx12345678xx", ["12345678"])).toBe("xx[redacted]xx");
  });

  it("redacts a short secret only where it stands alone, so it does not garble the text", () => {
    const description = "invalid_grant: the password is wrong";
    for (const short of ["a", "in", "grant", "pass", "é", "1234567"]) {
      expect(redactSecrets(description, [short])).toBe(description);
    }
    const cases: [string, string, string][] = [
      ["a", "password=a&username=u", "password=[redacted]&username=u"],
      ["a", '{"password":"a"}', '{"password":"[redacted]"}'],
      ["a", "wrong password: a.", "wrong password: [redacted]."],
      ["a", "%7B%22password%22%3A%22a%22%7D", "%7B%22password%22%3A%22[redacted]%22%7D"],
      // JSON with its quotes escaped as `\u0022` (as .NET writes them), in a string's text.
      [
        "abc",
        "{\\u0022password\\u0022:\\u0022abc\\u0022}",
        "{\\u0022password\\u0022:\\u0022[redacted]\\u0022}",
      ],
      ["Zq9", "sign in with Zq9", "sign in with [redacted]"],
      ["Zq9", "Zq9", "[redacted]"],
      ["é", "café: é", "café: [redacted]"],
      ["a b", "password=a+b&", "password=[redacted]&"],
      // Its own first or last character not a word character: that side needs no separator.
      ["-a", "x-a y", "x[redacted] y"],
      ["a-", "a-x", "[redacted]x"],
    ];
    for (const [short, text, redacted] of cases) expect(redactSecrets(text, [short])).toBe(redacted);
  });

  it("takes time linear in the text for secrets that read two ways (backslashes, quotes)", () => {
    // Were each `\\` free to be read clear or JSON-escaped, backtracking over every way to read these
    // took some 20 s on the development machine (about 2^20 tries at each of hundreds of places), four
    // times the test's timeout.
    for (const [secret, text] of [
      [`${"\\".repeat(20)}x`, "\\".repeat(300)],
      [`${'\\"'.repeat(20)}x`, '\\\\"'.repeat(100)],
    ] as const) {
      expect(redactSecrets(text, [secret])).toBe(text);
      expect(redactSecrets(`${text}${JSON.stringify(secret)}`, [secret])).toBe(`${text}"[redacted]"`);
    }
  });

  it("skips secrets longer than the text and reuses the last pattern: the same answers as compiling each time", () => {
    /** Compiles every secret on every call, as before the shortcuts. */
    const reference = (text: string, secrets: string[]) => {
      const sources = secrets
        .filter(Boolean)
        .sort((a, b) => b.length - a.length)
        .map(secretPattern);
      return sources[0] ? text.replace(new RegExp(sources.join("|"), "gu"), "[redacted]") : text;
    };
    const secret = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 12 }));
    fc.assert(
      fc.property(
        fc.array(secret, { maxLength: 4 }),
        fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.nat(3)), { maxLength: 6 }),
        (secrets, parts) => {
          // Pieces of text, or a secret in clear, percent-encoded or inside a JSON string.
          const text = parts
            .map((part) => {
              if (typeof part === "string") return part;
              const chosen = secrets[part % Math.max(secrets.length, 1)] ?? "";
              return [chosen, encodeURIComponent(chosen), JSON.stringify(chosen)][part % 3];
            })
            .join("");
          for (const list of [secrets, [...secrets].reverse(), secrets]) {
            expect(redactSecrets(text, list)).toBe(reference(text, list));
          }
        },
      ),
    );
  });

  it("compiles one pattern for many short strings, none for a 2 KB secret longer than each", () => {
    const token = "eyJ".padEnd(2_048, "x");
    const strings = Array.from(
      { length: 100 },
      (_, i) => `error ${i}: invalid_request ${i % 2 ? "pw-12345678" : ""}`,
    );
    const before = compiledPatterns.count;
    const redacted = strings.map((text) => redactSecrets(text, [token, "pw-12345678"]));
    expect(compiledPatterns.count - before).toBe(1);
    expect(redacted[1]).toBe("error 1: invalid_request [redacted]");
    expect(redacted.map((text) => redactSecrets(text, [token]))).toEqual(redacted);
    expect(compiledPatterns.count - before).toBe(1);
  });
});
