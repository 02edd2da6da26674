import { DEFAULT_PAT_PREFIX, formatPat, PAT_SECRET_BYTES } from "@tokenkeep/pat-protocol";
import { customAlphabet } from "nanoid";
import { randomBytes, toBase64 } from "./internal/bytes";
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

/**
 * Generates a PAT (32 random bytes of secret) and its scrypt PHC string, without storing anything:
 * register it later with `PUT /admin/tokens/:tokenId` or `store.insert`.
 */
export async function generateToken(options: GenerateTokenOptions = {}): Promise<GeneratedToken> {
  const secret = randomBytes(PAT_SECRET_BYTES);
  const tokenId = options.tokenId ?? generateTokenId();
  const secretPhc = await hashSecret(secret, { log2Cost: options.scryptLog2Cost });
  const token = formatPat(tokenId, toBase64(secret), {
    prefix: options.prefix ?? DEFAULT_PAT_PREFIX,
  });
  return { token, tokenId, secretPhc };
}
