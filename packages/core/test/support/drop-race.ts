/**
 * A refresh token dropped by one instance while another writes a newer set: the race of
 * `shareStore`'s `drop`. Shared by core's test (memory store) and `@tokenkeep/redis`'s (real Redis).
 * Real timers, a manual clock, no sleeps.
 */
import { DEFAULT_IDENTITY_KEY, hashIdentityKey } from "../../src/manager/identity.js";
import { shareStore } from "../../src/shared/share-store.js";
import type { Store } from "../../src/store/store.js";
import type { TokenSet } from "../../src/token/token-set.js";
import { badGateway, failingFleet } from "./failing-fleet.js";

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
  // Real timers; a refresh of the newer set's token succeeds.
  const { presented, manager } = failingFleet({
    shared: shareStore(store, { keyPrefix }),
    now,
    refresh: async (name, previous) => {
      if (previous?.refreshToken !== "rt-1") {
        return { access_token: `${name}-3`, expires_in: 60, refresh_token: "rt-3" };
      }
      race = async () => {
        await inner.set(key, { set: { ...newer }, obtainedAt: clock }, 120_000);
      };
      throw badGateway();
    },
  });
  const a = manager("A");
  const b = manager("B");
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
