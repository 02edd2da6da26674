/**
 * Cookie sealing: authenticated encryption (AES-256-GCM through Web Crypto) of the session a cookie
 * carries, so a stolen cookie jar, a proxy log or a browser extension sees no token.
 *
 * Keys come from secrets (strings of at least 32 characters, typically an environment variable),
 * stretched with HKDF-SHA-256. The first secret seals; every secret in the list unseals, so a key is
 * rotated by putting the new one first and keeping the old one until the cookies it sealed expired.
 * A sealed value names its key by a short id (a hash prefix, never the key), so unsealing tries one key.
 *
 * Format: `tk1.<key id>.<iv>.<ciphertext and tag>`, every part base64url. The cookie's logical name is
 * bound as additional data, so a value cannot be moved to another cookie.
 */
import { fromBase64Url, toBase64Url } from "./internal/base64url.js";

/** The shortest secret accepted: 32 characters (256 bits when random). */
export const MIN_SECRET_LENGTH = 32;

const SEALED_PREFIX = "tk1.";
const PLAIN_PREFIX = "tk0.";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Seals and unseals cookie values. */
export interface CookieSealer {
  /** Whether values are encrypted (`false` only in development without a secret). */
  readonly sealed: boolean;
  /** The value to store for `plaintext`. */
  seal(plaintext: string): Promise<string>;
  /** The plaintext of a stored value; `undefined` when it was tampered with, or no key fits. */
  unseal(value: string): Promise<string | undefined>;
}

interface Key {
  readonly id: string;
  readonly key: CryptoKey;
}

async function deriveKey(secret: string): Promise<Key> {
  const material = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, [
    "deriveKey",
    "deriveBits",
  ]);
  const hkdf = (info: string) => ({
    name: "HKDF",
    hash: "SHA-256",
    salt: new Uint8Array(0),
    info: encoder.encode(info),
  });
  const key = await crypto.subtle.deriveKey(
    hkdf("tokenkeep astro cookie v1"),
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  const idBits = await crypto.subtle.deriveBits(hkdf("tokenkeep astro cookie key id v1"), material, 48);
  return { id: toBase64Url(new Uint8Array(idBits)), key };
}

/**
 * A sealer with AES-256-GCM keys derived from `secrets` (the first one seals). Throws a `TypeError`
 * for an empty list or a secret shorter than {@link MIN_SECRET_LENGTH}.
 */
export function createCookieSealer(secrets: readonly string[], additionalData: string): CookieSealer {
  if (secrets.length === 0) throw new TypeError("cookie sealing needs at least one secret");
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new TypeError(`a cookie secret must be at least ${MIN_SECRET_LENGTH} characters long`);
    }
  }
  let keys: Promise<Key[]> | undefined;
  const getKeys = () => {
    // A derivation that failed is not kept: the next value derives again.
    keys ??= Promise.all(secrets.map(deriveKey)).catch((error: unknown) => {
      keys = undefined;
      throw error;
    });
    return keys;
  };
  const aad = encoder.encode(additionalData);
  return {
    sealed: true,
    async seal(plaintext) {
      const [key] = await getKeys();
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ciphertext = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: aad },
        key!.key,
        encoder.encode(plaintext),
      );
      return `${SEALED_PREFIX}${key!.id}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ciphertext))}`;
    },
    async unseal(value) {
      if (!value.startsWith(SEALED_PREFIX)) return undefined;
      const [id, ivText, dataText, extra] = value.slice(SEALED_PREFIX.length).split(".");
      if (extra !== undefined || id === undefined || ivText === undefined || dataText === undefined) {
        return undefined;
      }
      const key = (await getKeys()).find((candidate) => candidate.id === id);
      const iv = fromBase64Url(ivText);
      const data = fromBase64Url(dataText);
      if (key === undefined || iv?.length !== 12 || data === undefined) return undefined;
      try {
        const plaintext = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv, additionalData: aad },
          key.key,
          data,
        );
        return decoder.decode(plaintext);
      } catch {
        return undefined; // tampered with, or sealed for another cookie
      }
    },
  };
}

/**
 * A sealer that only encodes (base64url): for the development server without a secret. The
 * middleware refuses it outside development.
 */
export function createPlainSealer(): CookieSealer {
  return {
    sealed: false,
    seal: async (plaintext) => PLAIN_PREFIX + toBase64Url(encoder.encode(plaintext)),
    unseal: async (value) => {
      if (!value.startsWith(PLAIN_PREFIX)) return undefined;
      const bytes = fromBase64Url(value.slice(PLAIN_PREFIX.length));
      return bytes === undefined ? undefined : decoder.decode(bytes);
    },
  };
}

/**
 * Remembers the plaintext of the last `maxEntries` values unsealed (least recently used dropped), so
 * a session's repeated requests cost a map lookup instead of a decryption: Web Crypto runs each
 * operation off the main thread, which costs more than the rest of the middleware together. Keys are
 * whole sealed values, which carry a random IV, so only a value that unsealed before can hit.
 */
export function withUnsealCache(sealer: CookieSealer, maxEntries: number): CookieSealer {
  const cache = new Map<string, string>();
  return {
    sealed: sealer.sealed,
    seal: (plaintext) => sealer.seal(plaintext),
    async unseal(value) {
      const known = cache.get(value);
      if (known !== undefined) {
        cache.delete(value);
        cache.set(value, known);
        return known;
      }
      const plaintext = await sealer.unseal(value);
      if (plaintext !== undefined) {
        cache.set(value, plaintext);
        if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      }
      return plaintext;
    },
  };
}
