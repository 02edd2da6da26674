import {
  DEFAULT_PAT_PREFIX,
  formatPat,
  PAT_PREFIX_PATTERN,
  PAT_SECRET_BYTES,
  tokenIdSchema,
} from "@tokenkeep/pat-protocol";
import { customAlphabet } from "nanoid";
import * as z from "zod";
import { randomBytes, toBase64 } from "./internal/bytes";
import { parseOptions } from "./internal/options";
import { hashSecret } from "./scrypt";

const TOKEN_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A random 21-character token id of `[A-Za-z0-9]`. */
export const generateTokenId: () => string = customAlphabet(TOKEN_ID_ALPHABET, 21);

/** Options of {@link generateToken}. */
export interface GenerateTokenOptions {
  /** Use this id instead of a random one. */
  readonly tokenId?: string;
  /** @default "pat_" */
  readonly prefix?: string;
  /**
   * log2 of scrypt's cost N. Lower values are for tests only.
   * @default 14
   */
  readonly scryptLog2Cost?: number;
}

/** A new PAT and what a store keeps of it. */
export interface GeneratedToken {
  /** The plaintext PAT: show it once, never store or log it. */
  readonly token: string;
  readonly tokenId: string;
  readonly secretPhc: string;
}

const generateTokenOptionsSchema = z.object({
  tokenId: tokenIdSchema.optional(),
  prefix: z
    .string()
    .regex(PAT_PREFIX_PATTERN, "Expected 1 to 32 characters of [A-Za-z0-9_-]")
    .default(DEFAULT_PAT_PREFIX),
  // The range itself is hashSecret's to check (one message for both).
  scryptLog2Cost: z.number().optional(),
});

/**
 * Generates a PAT (32 random bytes of secret) and its scrypt PHC string, without storing anything:
 * register it later with `PUT /admin/tokens/:tokenId` or `store.insert`.
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for a malformed `tokenId` or `prefix`, a
 *   `scryptLog2Cost` outside 1..16, or an unknown option.
 */
export async function generateToken(options: GenerateTokenOptions = {}): Promise<GeneratedToken> {
  const parsed = parseOptions(generateTokenOptionsSchema, options, "generateToken");
  const secret = randomBytes(PAT_SECRET_BYTES);
  const tokenId = parsed.tokenId ?? generateTokenId();
  const secretPhc = await hashSecret(secret, { log2Cost: parsed.scryptLog2Cost });
  const token = formatPat(tokenId, toBase64(secret), { prefix: parsed.prefix });
  return { token, tokenId, secretPhc };
}
