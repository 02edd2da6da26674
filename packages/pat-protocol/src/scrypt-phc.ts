import * as z from "zod";
import { MAX_SCRYPT_MEMORY_BYTES, MAX_SCRYPT_WORK, MAX_SECRET_PHC_LENGTH } from "./limits";

/** The parts of a scrypt PHC string, still base64-encoded. */
export interface ScryptPhc {
  /** log2 of the scrypt cost N (14 means N = 16384). */
  readonly log2Cost: number;
  /** scrypt block size r. */
  readonly blockSize: number;
  /** scrypt parallelization p. */
  readonly parallelization: number;
  /** Salt, standard base64 without padding. */
  readonly salt: string;
  /** Derived key, standard base64 without padding. */
  readonly hash: string;
}

const PHC_PATTERN = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Bytes encoded by an unpadded base64 string of `length` characters, or -1 when no byte count fits. */
function base64ByteLength(length: number): number {
  if (length % 4 === 1) return -1;
  return Math.floor((length * 3) / 4);
}

/**
 * Parses `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>` (PHC string format, unpadded base64).
 * Accepts ln 1..20, r 1..32, p 1..16, a salt of 8 to 64 bytes and a hash of 16 to 64 bytes, a work
 * `N * r * p` of at most {@link MAX_SCRYPT_WORK} (8 times the default) and a memory need `128 * N * r`
 * of at most {@link MAX_SCRYPT_MEMORY_BYTES}; returns `undefined` for anything else.
 */
export function parseScryptPhc(value: string): ScryptPhc | undefined {
  if (typeof value !== "string" || value.length > MAX_SECRET_PHC_LENGTH) return undefined;
  const match = PHC_PATTERN.exec(value);
  if (!match) return undefined;
  const [, ln, r, p, salt = "", hash = ""] = match;
  const log2Cost = Number(ln);
  const blockSize = Number(r);
  const parallelization = Number(p);
  if (log2Cost < 1 || log2Cost > 20 || blockSize < 1 || blockSize > 32) return undefined;
  if (parallelization < 1 || parallelization > 16) return undefined;
  if (2 ** log2Cost * blockSize * parallelization > MAX_SCRYPT_WORK) return undefined;
  if (128 * 2 ** log2Cost * blockSize > MAX_SCRYPT_MEMORY_BYTES) return undefined;
  const saltBytes = base64ByteLength(salt.length);
  const hashBytes = base64ByteLength(hash.length);
  if (saltBytes < 8 || saltBytes > 64 || hashBytes < 16 || hashBytes > 64) return undefined;
  return { log2Cost, blockSize, parallelization, salt, hash };
}

/** Formats a scrypt PHC string from its parts (salt and hash as unpadded standard base64). */
export function formatScryptPhc(phc: ScryptPhc): string {
  return `$scrypt$ln=${phc.log2Cost},r=${phc.blockSize},p=${phc.parallelization}$${phc.salt}$${phc.hash}`;
}

/** A `secretPhc` the server accepts: a scrypt PHC string that {@link parseScryptPhc} understands. */
export const scryptPhcSchema = z
  .string()
  .max(MAX_SECRET_PHC_LENGTH)
  .refine((value) => parseScryptPhc(value) !== undefined, {
    message: "Expected a scrypt PHC string: $scrypt$ln=<n>,r=<r>,p=<p>$<salt>$<hash>",
  });
