import { DEFAULT_PAT_PREFIX, MAX_PAT_LENGTH, TOKEN_ID_LENGTH } from "./limits";

/** Matches a token id: exactly 21 characters of the 62-letter alphabet `[A-Za-z0-9]`. */
export const TOKEN_ID_PATTERN: RegExp = new RegExp(`^[A-Za-z0-9]{${TOKEN_ID_LENGTH}}$`);

/**
 * Matches a PAT secret: 32 bytes in canonical standard base64 (44 characters, one `=`).
 * The last data character may only carry the 4 bits that exist, so every secret has one spelling.
 */
export const PAT_SECRET_PATTERN: RegExp = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Matches an accepted PAT prefix: 1 to 32 characters of `[A-Za-z0-9_-]`. */
export const PAT_PREFIX_PATTERN: RegExp = /^[A-Za-z0-9_-]{1,32}$/;

/** Why a string is not a PAT. */
export type PatParseFailureReason = "invalid_prefix" | "invalid_format";

/** The result of {@link parsePat}. */
export type PatParseResult =
  | { readonly ok: true; readonly tokenId: string; readonly secret: string }
  | { readonly ok: false; readonly reason: PatParseFailureReason };

/** Options of {@link parsePat} and {@link formatPat}. */
export interface PatFormatOptions {
  /**
   * The prefix every PAT starts with.
   * @default "pat_"
   */
  readonly prefix?: string;
}

/** True when `value` is a well-formed token id. */
export function isTokenId(value: unknown): value is string {
  return typeof value === "string" && TOKEN_ID_PATTERN.test(value);
}

/**
 * Splits a PAT into its token id and base64 secret, checking in the protocol's order:
 * prefix, length, exactly one `.`, id pattern, base64 pattern. Never throws and never echoes the input.
 */
export function parsePat(token: string, options: PatFormatOptions = {}): PatParseResult {
  const prefix = options.prefix ?? DEFAULT_PAT_PREFIX;
  if (typeof token !== "string" || !token.startsWith(prefix)) return { ok: false, reason: "invalid_prefix" };
  if (token.length > MAX_PAT_LENGTH) return { ok: false, reason: "invalid_format" };
  const parts = token.slice(prefix.length).split(".");
  if (parts.length !== 2) return { ok: false, reason: "invalid_format" };
  const [tokenId = "", secret = ""] = parts;
  if (!TOKEN_ID_PATTERN.test(tokenId) || !PAT_SECRET_PATTERN.test(secret)) {
    return { ok: false, reason: "invalid_format" };
  }
  return { ok: true, tokenId, secret };
}

/** Joins a token id and a base64 secret into a PAT: `<prefix><tokenId>.<secret>`. */
export function formatPat(tokenId: string, secret: string, options: PatFormatOptions = {}): string {
  return `${options.prefix ?? DEFAULT_PAT_PREFIX}${tokenId}.${secret}`;
}
