import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_PAT_LENGTH, MAX_SCRYPT_MEMORY_BYTES, MAX_SCRYPT_WORK, PAT_SECRET_BYTES } from "./limits";
import { formatPat, parsePat } from "./pat-format";
import { formatScryptPhc, parseScryptPhc } from "./scrypt-phc";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const tokenId = fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: 21, maxLength: 21 });
const secretBytes = fc.uint8Array({ minLength: PAT_SECRET_BYTES, maxLength: PAT_SECRET_BYTES });
const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

describe("PAT format properties", () => {
  it("parses every formatted PAT back to its id and secret", () => {
    fc.assert(
      fc.property(tokenId, secretBytes, (id, bytes) => {
        const secret = toBase64(bytes);
        expect(parsePat(formatPat(id, secret))).toEqual({ ok: true, tokenId: id, secret });
      }),
    );
  });

  it("never throws, and accepts exactly the PATs of the right shape", () => {
    // Random text alone is never a PAT, so most inputs are valid PATs with one character changed,
    // inserted or removed: accepted and refused ones both come up, and each is compared with a
    // reference built on atob/btoa instead of the parser's patterns.
    const pat = fc.tuple(tokenId, secretBytes).map(([id, bytes]) => formatPat(id, toBase64(bytes)));
    const mutated = fc
      .tuple(pat, fc.nat(), fc.constantFrom("", ...`${ALPHABET}+/=._- `), fc.constantFrom(0, 1))
      .map(([token, at, character, drop]) => {
        const index = at % (token.length + 1);
        return `${token.slice(0, index)}${character}${token.slice(index + drop)}`;
      });
    /** 32 bytes in canonical standard base64: the one spelling that decodes to them and back. */
    const isCanonicalSecret = (secret: string) => {
      try {
        const bytes = atob(secret);
        return bytes.length === PAT_SECRET_BYTES && btoa(bytes) === secret;
      } catch {
        return false;
      }
    };
    const isPat = (input: string) => {
      if (!input.startsWith("pat_") || input.length > MAX_PAT_LENGTH) return false;
      const parts = input.slice("pat_".length).split(".");
      return parts.length === 2 && /^[A-Za-z0-9]{21}$/.test(parts[0]!) && isCanonicalSecret(parts[1]!);
    };
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.oneof({ arbitrary: fc.string({ maxLength: 260 }), weight: 1 }, { arbitrary: mutated, weight: 4 }),
        (input) => {
          const result = parsePat(input);
          expect(result.ok).toBe(isPat(input));
          if (result.ok) {
            accepted++;
            expect(formatPat(result.tokenId, result.secret)).toBe(input);
          } else refused++;
        },
      ),
      { numRuns: 1_000 },
    );
    // The assertions above ran on both sides.
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });

  it("rejects any single-character change to the secret that leaves non-canonical or non-base64 text", () => {
    fc.assert(
      fc.property(
        tokenId,
        secretBytes,
        fc.nat({ max: 43 }),
        fc.constantFrom(",", ".", ":", "<", "@", "[", "\\", "-", "_", " "),
        (id, bytes, at, bad) => {
          const secret = toBase64(bytes);
          const mutated = `${secret.slice(0, at)}${bad}${secret.slice(at + 1)}`;
          expect(parsePat(formatPat(id, mutated)).ok).toBe(false);
        },
      ),
    );
  });
});

describe("scrypt PHC properties", () => {
  it("round-trips every parameter set within the documented bounds, and rejects the others", () => {
    // Around every bound parseScryptPhc documents (ln 1..20, r 1..32, p 1..16, an unpadded base64
    // salt of 8 to 64 bytes and hash of 16 to 64 bytes, the work and memory caps), judged by a
    // reference that decodes salt and hash with atob instead of counting characters.
    const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const b64 = fc
      .integer({ min: 1, max: 92 })
      .chain((length) => fc.string({ unit: fc.constantFrom(...B64), minLength: length, maxLength: length }));
    /** The bytes an unpadded base64 string holds, or undefined when no byte count fits its length. */
    const decodedBytes = (text: string) => {
      try {
        return atob(text.padEnd(Math.ceil(text.length / 4) * 4, "=")).length;
      } catch {
        return undefined;
      }
    };
    const within = (value: number | undefined, min: number, max: number) =>
      value !== undefined && value >= min && value <= max;
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 21 }),
        fc.integer({ min: 0, max: 33 }),
        fc.integer({ min: 0, max: 17 }),
        b64,
        b64,
        (log2Cost, blockSize, parallelization, salt, hash) => {
          const phc = { log2Cost, blockSize, parallelization, salt, hash };
          const work = 2 ** log2Cost * blockSize * parallelization;
          const memoryBytes = 128 * 2 ** log2Cost * blockSize;
          const valid =
            within(log2Cost, 1, 20) &&
            within(blockSize, 1, 32) &&
            within(parallelization, 1, 16) &&
            work <= MAX_SCRYPT_WORK &&
            memoryBytes <= MAX_SCRYPT_MEMORY_BYTES &&
            within(decodedBytes(salt), 8, 64) &&
            within(decodedBytes(hash), 16, 64);
          expect(parseScryptPhc(formatScryptPhc(phc))).toEqual(valid ? phc : undefined);
          if (valid) accepted++;
          else refused++;
        },
      ),
      { numRuns: 2_000 },
    );
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
