import { constantTimeEqual, randomBytes } from "./bytes";

/** Options of {@link createVerifierCache}. */
export interface VerifierCacheOptions {
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Clock in epoch milliseconds. */
  readonly now: () => number;
}

/**
 * Remembers, per token id, that a secret matched a stored PHC string, as an HMAC-SHA256 of the id,
 * the PHC and the secret under a key drawn at random when the cache is created (held in memory only): a returning client's exchange costs one HMAC instead of one scrypt run. The PHC is part of
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

/** The part of `node:crypto` used here. */
interface HmacHost {
  createHmac(algorithm: "sha256", key: Uint8Array): { update(data: Uint8Array): { digest(): Uint8Array } };
}

/** `node:crypto` through `process.getBuiltinModule` (no import: this module loads everywhere), if any. */
function nodeCrypto(): HmacHost | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const host = process?.getBuiltinModule?.("node:crypto") as HmacHost | undefined;
  return typeof host?.createHmac === "function" ? host : undefined;
}

/** Creates an in-memory {@link VerifierCache}, bounded by `maxEntries` (least recently used first out). */
export function createVerifierCache(options: VerifierCacheOptions): VerifierCache {
  const { ttlMs, maxEntries, now } = options;
  const entries = new Map<string, Entry>();
  let key: Promise<InstanceType<typeof CryptoKey>> | undefined;

  // Node's synchronous HMAC when the runtime has one (a few microseconds, no thread-pool round trip on
  // the hot path of returning clients); WebCrypto's otherwise.
  const host = nodeCrypto();
  const rawKey = randomBytes(32);

  async function mac(tokenId: string, secret: Uint8Array, secretPhc: string): Promise<Uint8Array> {
    const label = encoder.encode(`${tokenId}\u0000${secretPhc}\u0000`);
    const data = new Uint8Array(label.length + secret.length);
    data.set(label);
    data.set(secret, label.length);
    if (host) return new Uint8Array(host.createHmac("sha256", rawKey).update(data).digest());
    key ??= crypto.subtle.importKey("raw", rawKey, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
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
