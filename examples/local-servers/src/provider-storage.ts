// What oidc-provider needs to run without its development-only defaults (each of which prints a
// warning on stderr): a storage adapter and the keys that sign its tokens. This example keeps both
// in memory, which is what a one-process demo needs; a real deployment would use a database and keys
// it keeps.
import { generateKeyPairSync } from "node:crypto";

type Payload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string };

const entries = new Map<string, { payload: Payload; expiresAt: number }>();

/** oidc-provider's adapter interface, on a Map: one instance per model (`AccessToken`, `Grant`...). */
export class MemoryAdapter {
  readonly #model: string;

  constructor(model: string) {
    this.#model = model;
  }

  #key(id: string): string {
    return `${this.#model}:${id}`;
  }

  async upsert(id: string, payload: Payload, expiresInS: number): Promise<void> {
    entries.set(this.#key(id), { payload, expiresAt: Date.now() + expiresInS * 1000 });
  }

  async find(id: string): Promise<Payload | undefined> {
    const entry = entries.get(this.#key(id));
    if (entry === undefined || entry.expiresAt <= Date.now()) return undefined;
    return entry.payload;
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    return this.#findBy((payload) => payload.uid === uid);
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    return this.#findBy((payload) => payload.userCode === userCode);
  }

  async consume(id: string): Promise<void> {
    const entry = entries.get(this.#key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    entries.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const [key, entry] of entries) if (entry.payload.grantId === grantId) entries.delete(key);
  }

  #findBy(match: (payload: Payload) => boolean): Payload | undefined {
    const prefix = `${this.#model}:`;
    for (const [key, entry] of entries) {
      if (key.startsWith(prefix) && entry.expiresAt > Date.now() && match(entry.payload))
        return entry.payload;
    }
    return undefined;
  }
}

/** A fresh RS256 signing key as a JWK Set, made at start-up. */
export function signingKeys(): { keys: Record<string, unknown>[] } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: "jwk" }), alg: "RS256", use: "sig", kid: "demo" }] };
}
