/**
 * A refresh token dropped by one instance while another writes a newer set: the race of
 * `shareStore`'s `drop`. Shared by core's test (memory store) and `@tokenkeep/redis`'s (real Redis).
 * Real timers, a manual clock, no sleeps.
 */
import { InvalidResponseError } from "../../src/errors/errors.js";
import { DEFAULT_IDENTITY_KEY, hashIdentityKey } from "../../src/manager/identity.js";
import { createTokenManager } from "../../src/manager/token-manager.js";
import { shareStore } from "../../src/shared/share-store.js";
import type { Store } from "../../src/store/store.js";
import type { TokenSet } from "../../src/token/token-set.js";

/**
 * Instances A and B share `makeStore(now)`. A's refresh of rt-1 fails in doubt (a 502), so A drops
 * rt-1 from the shared set; between A's read of the store and its write, another instance writes a
 * newer set holding rt-b (as one that took over an expired lease would). A's creator fails too, so
 * A writes nothing else. Then B asks for a token, and again once that set has expired.
 *
 * Returns what the store holds for the identity after A's failure, B's two tokens (or errors), and
 * every refresh token presented, as `instance:token`.
 */
export async function dropWhileAnotherWrites(makeStore: (now: () => number) => Store, keyPrefix: string) {
  let clock = Date.parse("2026-12-06T12:00:00Z");
  const now = () => clock;
  const inner = makeStore(now);
  const key = `${keyPrefix}token:${await hashIdentityKey(DEFAULT_IDENTITY_KEY)}`;
  // Runs once, right after the next read of the identity's set resolves (A's drop reads it).
  let race: (() => Promise<void>) | undefined;
  const store: Store = {
    get: async (at) => {
      const value = await inner.get(at);
      const run = at === key ? race : undefined;
      race = undefined;
      await run?.();
      return value;
    },
    set: (at, value, ttlMs) => inner.set(at, value, ttlMs),
    delete: (at) => inner.delete(at),
    acquire: inner.acquire?.bind(inner),
    compareAndDelete: inner.compareAndDelete?.bind(inner),
    compareAndSet: inner.compareAndSet?.bind(inner),
  };
  const newer: TokenSet = {
    accessToken: "b-2",
    tokenType: "Bearer",
    expiresAt: clock + 120_000,
    refreshToken: "rt-b",
    raw: {},
  };
  const shared = shareStore(store, { keyPrefix });
  const presented: string[] = [];
  let created = 0;
  const bad = () => new InvalidResponseError("502", { status: 502, transient: true });
  const instance = (name: string) =>
    createTokenManager({
      now,
      retry: { retries: 0 },
      refreshAheadRatio: 1,
      shared,
      creator: async () => {
        if (++created > 1) throw bad();
        return { access_token: "c-1", expires_in: 60, refresh_token: "rt-1" };
      },
      refresher: async ({ previous }) => {
        presented.push(`${name}:${previous?.refreshToken}`);
        if (previous?.refreshToken !== "rt-1") {
          return { access_token: `${name}-3`, expires_in: 60, refresh_token: "rt-3" };
        }
        race = async () => {
          await inner.set(key, { set: { ...newer }, obtainedAt: clock }, 120_000);
        };
        throw bad();
      },
    });
  const a = instance("A");
  const b = instance("B");
  const outcome = (promise: Promise<TokenSet>) =>
    promise.then(
      (set) => set.accessToken,
      (error: unknown) => error,
    );
  try {
    await a.getToken();
    clock += 60_000;
    const failedA = await outcome(a.getToken());
    const stored = await inner.get(key);
    const firstB = await outcome(b.getToken());
    clock += 120_000;
    const secondB = await outcome(b.getToken());
    return { failedA, stored, firstB, secondB, presented };
  } finally {
    await Promise.all([a.dispose(), b.dispose()]);
  }
}
