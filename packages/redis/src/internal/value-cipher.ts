/**
 * Optional AES-256-GCM encryption of stored values with `crypto.subtle`.
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

/** Stores JSON text as it is. */
export const plainCipher: ValueCipher = {
  seal: async (plaintext) => plaintext,
  open: async (payload) => payload,
};

/** AES-GCM with the given key (already imported for `encrypt` and `decrypt`). */
export function aesGcmCipher(key: CryptoKey | Promise<CryptoKey>): ValueCipher {
  return {
    async seal(plaintext, redisKey) {
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const sealed = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: "AES-GCM", iv, additionalData: encoder.encode(redisKey) },
          await key,
          encoder.encode(plaintext),
        ),
      );
      const out = new Uint8Array(IV_BYTES + sealed.length);
      out.set(iv, 0);
      out.set(sealed, IV_BYTES);
      return VERSION + Buffer.from(out).toString("base64");
    },
    async open(payload, redisKey) {
      if (!payload.startsWith(VERSION)) return undefined;
      const bytes = Buffer.from(payload.slice(VERSION.length), "base64");
      if (bytes.length < IV_BYTES + 16) return undefined;
      try {
        const plain = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: encoder.encode(redisKey) },
          await key,
          bytes.subarray(IV_BYTES),
        );
        return decoder.decode(plain);
      } catch {
        // Wrong key, tampered or truncated: the store reads the entry as unreadable (not as absent).
        return undefined;
      }
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
