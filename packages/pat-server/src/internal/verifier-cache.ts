import { constantTimeEqual } from "./bytes";

/** Options of {@link createVerifierCache}. */
export interface VerifierCacheOptions {
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Clock in epoch milliseconds. */
  readonly now: () => number;
}

/**
 * Remembers, per token id, that a secret matched a stored PHC string, as an HMAC-SHA256 of the id,
 * the PHC and the secret under a key drawn at random when the cache is created (never stored, never
 * exported): a returning client's exchange costs one HMAC instead of one scrypt run. The PHC is part of
 * the MAC, so a rotated secret (a new PHC) never matches an old entry.
 */
export interface VerifierCache {
  /** True when `secret` was verified against `secretPhc` for `tokenId` within the TTL. */
  matches(tokenId: string, secret: Uint8Array, secretPhc: string): Promise<boolean>;
  /** Records a successful scrypt verification. */
  remember(tokenId: string, secret: Uint8Array, secretPhc: string): Promise<void>;
}

interface Entry {
  readonly mac: Uint8Array;
  readonly secretPhc: string;
  readonly expiresAt: number;
}

const encoder = new TextEncoder();

/** Creates an in-memory {@link VerifierCache}, bounded by `maxEntries` (least recently used first out). */
export function createVerifierCache(options: VerifierCacheOptions): VerifierCache {
  const { ttlMs, maxEntries, now } = options;
  const entries = new Map<string, Entry>();
  let key: Promise<InstanceType<typeof CryptoKey>> | undefined;

  async function mac(tokenId: string, secret: Uint8Array, secretPhc: string): Promise<Uint8Array> {
    key ??= crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]) as Promise<
      InstanceType<typeof CryptoKey>
    >;
    const label = encoder.encode(`${tokenId}\u0000${secretPhc}\u0000`);
    const data = new Uint8Array(label.length + secret.length);
    data.set(label);
    data.set(secret, label.length);
    return new Uint8Array(await crypto.subtle.sign("HMAC", await key, data));
  }

  return {
    async matches(tokenId, secret, secretPhc) {
      const entry = entries.get(tokenId);
      if (!entry) return false;
      if (entry.expiresAt <= now()) {
        entries.delete(tokenId);
        return false;
      }
      if (entry.secretPhc !== secretPhc) return false;
      if (!constantTimeEqual(await mac(tokenId, secret, secretPhc), entry.mac)) return false;
      entries.delete(tokenId); // most recently used last
      entries.set(tokenId, entry);
      return true;
    },
    async remember(tokenId, secret, secretPhc) {
      const entry = { mac: await mac(tokenId, secret, secretPhc), secretPhc, expiresAt: now() + ttlMs };
      entries.delete(tokenId);
      entries.set(tokenId, entry);
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
  };
}
