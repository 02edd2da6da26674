/**
 * Optional AES-256-GCM encryption of stored values with `crypto.subtle`, with extra keys that only
 * open (a key change without unreadable entries).
 *
 * Format: `tk1.` + base64(iv (12 random bytes) || ciphertext || tag). The Redis key is the additional
 * authenticated data, so a value copied under another key does not decrypt.
 */

const VERSION = "tk1.";
const IV_BYTES = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Turns JSON text into what is written to Redis, and back. */
export interface ValueCipher {
  seal(plaintext: string, redisKey: string): Promise<string>;
  /** The plaintext, or `undefined` when the payload is not ours or fails authentication. */
  open(payload: string, redisKey: string): Promise<string | undefined>;
}

/**
 * Seals with `sealKey` (without one, JSON text is stored as it is) and opens a sealed payload with
 * `sealKey` or any of `openKeys` (former or next keys, never used to seal). A plain payload opens
 * only when there is no `sealKey`: with encryption on, an unauthenticated value is never taken.
 */
export function valueCipher(
  sealKey: CryptoKey | Promise<CryptoKey> | undefined,
  openKeys: ReadonlyArray<CryptoKey | Promise<CryptoKey>> = [],
): ValueCipher {
  const keys = sealKey === undefined ? openKeys : [sealKey, ...openKeys];
  return {
    async seal(plaintext, redisKey) {
      if (sealKey === undefined) return plaintext;
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const sealed = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: "AES-GCM", iv, additionalData: encoder.encode(redisKey) },
          await sealKey,
          encoder.encode(plaintext),
        ),
      );
      const out = new Uint8Array(IV_BYTES + sealed.length);
      out.set(iv, 0);
      out.set(sealed, IV_BYTES);
      return VERSION + Buffer.from(out).toString("base64");
    },
    async open(payload, redisKey) {
      if (!payload.startsWith(VERSION)) return sealKey === undefined ? payload : undefined;
      const bytes = Buffer.from(payload.slice(VERSION.length), "base64");
      if (bytes.length < IV_BYTES + 16) return undefined;
      for (const key of keys) {
        try {
          const plain = await crypto.subtle.decrypt(
            { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: encoder.encode(redisKey) },
            await key,
            bytes.subarray(IV_BYTES),
          );
          return decoder.decode(plain);
        } catch {
          // Not this key (or tampered, truncated): the next one, if any.
        }
      }
      // No key opens it: the store reads the entry as unreadable (not as absent).
      return undefined;
    },
  };
}

/**
 * Imports a 32-byte key given as raw bytes or base64 text, or checks a `CryptoKey`. Throws a
 * `TypeError` naming the problem (never the key).
 */
export async function importEncryptionKey(input: CryptoKey | Uint8Array | string): Promise<CryptoKey> {
  if (typeof input !== "string" && !(input instanceof Uint8Array)) return input;
  const raw = typeof input === "string" ? Buffer.from(input, "base64") : input;
  if (raw.length !== 32) {
    throw new TypeError("encryptionKey must be 32 bytes (AES-256)");
  }
  return crypto.subtle.importKey("raw", new Uint8Array(raw), { name: "AES-GCM" }, false, [
    "encrypt",
    "decrypt",
  ]);
}
