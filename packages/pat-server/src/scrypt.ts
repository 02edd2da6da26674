import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from "node:crypto";
import { availableParallelism } from "node:os";
import { formatScryptPhc, parseScryptPhc } from "@tokenkeep/pat-protocol";
import {
  DEFAULT_SCRYPT_LOG2_COST,
  MAX_SCRYPT_LOG2_COST,
  SCRYPT_BLOCK_SIZE,
  SCRYPT_KEY_BYTES,
  SCRYPT_PARALLELIZATION,
  SCRYPT_SALT_BYTES,
} from "./defaults";
import { createSemaphore } from "./internal/semaphore";

/**
 * scrypt runs on libuv's thread pool, which WebCrypto (JWT signing and verification) shares. Leaving
 * one thread free keeps admin calls and JWT signing from queueing behind a backlog of scrypt jobs;
 * the CPU is saturated either way.
 */
const threadPoolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const scryptSlots = createSemaphore(Math.max(1, Math.min(availableParallelism(), threadPoolSize - 1)));

function scrypt(
  secret: Uint8Array,
  salt: Uint8Array,
  keyBytes: number,
  log2Cost: number,
  r: number,
  p: number,
) {
  const N = 2 ** log2Cost;
  return scryptSlots.run(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        // maxmem: scrypt needs about 128 * N * r bytes; leave headroom above it.
        scryptCallback(
          secret,
          salt,
          keyBytes,
          { N, r, p, maxmem: 256 * N * r + 1024 * 1024 },
          (error, key) => (error ? reject(error) : resolve(key)),
        );
      }),
  );
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}

/** Options of {@link hashSecret}. */
export interface HashSecretOptions {
  /**
   * log2 of scrypt's cost N, an integer from 1 to 16 (a costlier hash would never verify: the protocol
   * bounds the work of a stored PHC). Lower values are for tests only (10 costs ~1 ms instead of ~50 ms).
   * @default 14
   */
  readonly log2Cost?: number;
}

/**
 * Hashes a PAT secret (its raw bytes) with scrypt (N = 2^14, r = 8, p = 1, 16-byte salt, 32-byte key)
 * and returns the PHC string `$scrypt$ln=14,r=8,p=1$<salt>$<hash>`. Runs on libuv's thread pool.
 * @throws TypeError with code `ERR_PAT_SCRYPT_OPTIONS` for a `log2Cost` outside 1..16.
 */
export async function hashSecret(secret: Uint8Array, options: HashSecretOptions = {}): Promise<string> {
  const log2Cost = options.log2Cost ?? DEFAULT_SCRYPT_LOG2_COST;
  if (!Number.isInteger(log2Cost) || log2Cost < 1 || log2Cost > MAX_SCRYPT_LOG2_COST) {
    throw Object.assign(
      new TypeError(
        `Invalid scrypt options: log2Cost: Expected an integer from 1 to ${MAX_SCRYPT_LOG2_COST}`,
      ),
      {
        code: "ERR_PAT_SCRYPT_OPTIONS",
        cause: [`log2Cost: Expected an integer from 1 to ${MAX_SCRYPT_LOG2_COST}`],
      },
    );
  }
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const hash = await scrypt(
    secret,
    salt,
    SCRYPT_KEY_BYTES,
    log2Cost,
    SCRYPT_BLOCK_SIZE,
    SCRYPT_PARALLELIZATION,
  );
  return formatScryptPhc({
    log2Cost,
    blockSize: SCRYPT_BLOCK_SIZE,
    parallelization: SCRYPT_PARALLELIZATION,
    salt: toBase64(salt),
    hash: toBase64(hash),
  });
}

/**
 * True when `secret` matches the scrypt PHC string, compared in constant time. A PHC string that is not
 * scrypt, or out of the accepted parameter range, never matches.
 */
export async function verifySecret(secret: Uint8Array, secretPhc: string): Promise<boolean> {
  const phc = parseScryptPhc(secretPhc);
  if (!phc) return false;
  const salt = Buffer.from(phc.salt, "base64");
  const expected = Buffer.from(phc.hash, "base64");
  const actual = await scrypt(
    secret,
    salt,
    expected.length,
    phc.log2Cost,
    phc.blockSize,
    phc.parallelization,
  );
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
