import { formatScryptPhc, parseScryptPhc } from "@tokenkeep/pat-protocol";
import * as z from "zod";
import {
  DEFAULT_SCRYPT_LOG2_COST,
  MAX_SCRYPT_LOG2_COST,
  SCRYPT_BLOCK_SIZE,
  SCRYPT_KEY_BYTES,
  SCRYPT_PARALLELIZATION,
  SCRYPT_SALT_BYTES,
} from "./defaults";
import { fromBase64, randomBytes, toBase64 } from "./internal/bytes";
import { parseOptions } from "./internal/options";
import { createSemaphore, type Semaphore } from "./internal/semaphore";

/** The part of `node:crypto` this file uses. */
interface ScryptHost {
  scrypt(
    secret: Uint8Array,
    salt: Uint8Array,
    keyBytes: number,
    options: { N: number; r: number; p: number; maxmem: number },
    callback: (error: Error | null, key: Uint8Array) => void,
  ): void;
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

interface ProcessLike {
  getBuiltinModule?: (id: string) => unknown;
  env?: Record<string, string | undefined>;
}

let host: { crypto: ScryptHost; slots: Semaphore } | undefined;

/**
 * Node's scrypt, found at first use through `process.getBuiltinModule` rather than an import, so this
 * entry loads wherever `fetch` does: Node, Deno, Bun and workerd (with its default `nodejs_compat`)
 * provide it; elsewhere hashing fails with a clear error and the rest of the handler still works.
 *
 * scrypt runs on libuv's thread pool, which WebCrypto (JWT signing and verification) shares. Leaving
 * one thread free keeps admin calls and JWT signing from queueing behind a backlog of scrypt jobs;
 * the CPU is saturated either way.
 */
function scryptHost(): { crypto: ScryptHost; slots: Semaphore } {
  if (host) return host;
  const process = (globalThis as { process?: ProcessLike }).process;
  const crypto = process?.getBuiltinModule?.("node:crypto") as ScryptHost | undefined;
  if (typeof crypto?.scrypt !== "function") {
    throw new Error(
      "scrypt needs node:crypto, which this runtime does not provide (Node.js, Deno, Bun and Cloudflare Workers with nodejs_compat do)",
    );
  }
  const threadPoolSize = Number(threadPoolSetting(process)) || 4;
  const cores =
    (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  host = { crypto, slots: createSemaphore(Math.max(1, Math.min(cores, threadPoolSize - 1))) };
  return host;
}

/** `UV_THREADPOOL_SIZE`, if readable: Deno throws `NotCapable` without `--allow-env`. */
function threadPoolSetting(process: ProcessLike | undefined): string | undefined {
  try {
    return process?.env?.UV_THREADPOOL_SIZE;
  } catch {
    return undefined;
  }
}

function scrypt(
  secret: Uint8Array,
  salt: Uint8Array,
  keyBytes: number,
  log2Cost: number,
  r: number,
  p: number,
): Promise<Uint8Array> {
  const N = 2 ** log2Cost;
  const { crypto, slots } = scryptHost();
  return slots.run(
    () =>
      new Promise<Uint8Array>((resolve, reject) => {
        // maxmem: scrypt needs about 128 * N * r bytes; leave headroom above it.
        crypto.scrypt(secret, salt, keyBytes, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, key) =>
          error ? reject(error) : resolve(key),
        );
      }),
  );
}

function phcBase64(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, "");
}

const COST_MESSAGE = `Expected an integer from 1 to ${MAX_SCRYPT_LOG2_COST}`;
const hashSecretOptionsSchema = z.object({
  log2Cost: z
    .number(COST_MESSAGE)
    .int(COST_MESSAGE)
    .min(1, COST_MESSAGE)
    .max(MAX_SCRYPT_LOG2_COST, COST_MESSAGE)
    .default(DEFAULT_SCRYPT_LOG2_COST),
});

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
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for a `log2Cost` outside 1..16 or an
 *   unknown option.
 */
export async function hashSecret(secret: Uint8Array, options: HashSecretOptions = {}): Promise<string> {
  const { log2Cost } = parseOptions(hashSecretOptionsSchema, options, "hashSecret");
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
    salt: phcBase64(salt),
    hash: phcBase64(hash),
  });
}

/**
 * True when `secret` matches the scrypt PHC string, compared in constant time. A PHC string that is not
 * scrypt, or out of the accepted parameter range, never matches.
 */
export async function verifySecret(secret: Uint8Array, secretPhc: string): Promise<boolean> {
  const phc = parseScryptPhc(secretPhc);
  if (!phc) return false;
  let salt: Uint8Array;
  let expected: Uint8Array;
  try {
    salt = fromBase64(phc.salt);
    expected = fromBase64(phc.hash);
  } catch {
    return false;
  }
  const actual = await scrypt(
    secret,
    salt,
    expected.length,
    phc.log2Cost,
    phc.blockSize,
    phc.parallelization,
  );
  // Same lengths by construction (scrypt derived `expected.length` bytes); checked anyway, as
  // `timingSafeEqual` throws on a mismatch.
  if (actual.length !== expected.length) return false;
  return scryptHost().crypto.timingSafeEqual(actual, expected);
}

/**
 * A PHC string at `log2Cost` with a random salt and hash: verifying a secret against it costs one
 * scrypt run, like a real record, and never matches. An exchange for an unknown token id pays it, so
 * the answer's timing does not tell whether the id exists.
 */
export function unmatchablePhc(log2Cost: number): string {
  return formatScryptPhc({
    log2Cost,
    blockSize: SCRYPT_BLOCK_SIZE,
    parallelization: SCRYPT_PARALLELIZATION,
    salt: phcBase64(randomBytes(SCRYPT_SALT_BYTES)),
    hash: phcBase64(randomBytes(SCRYPT_KEY_BYTES)),
  });
}
