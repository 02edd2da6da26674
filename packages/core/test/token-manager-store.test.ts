/**
 * The manager with a shared store: two managers on one memory store behave as two instances of a
 * service; a store that fails or hangs (a fault injector in front of a real memory store) shows the
 * degraded mode.
 */
import { describe, expect, it } from "vitest";
import { InvalidResponseError, OAuthError } from "../src/errors/errors.js";
import type { TokenEvent } from "../src/manager/events.js";
import { hashIdentityKey } from "../src/manager/identity.js";
import { createTokenManager, type TokenManager } from "../src/manager/token-manager.js";
import type { TokenManagerOptions } from "../src/manager/token-manager-options.js";
import { createMemoryStore } from "../src/memory-store/memory-store.js";
import { type ShareStoreOptions, shareStore } from "../src/shared/index.js";
import type { Store } from "../src/store/store.js";
import type { TokenCreator } from "../src/token/token-creator.js";
import { dropWhileAnotherWrites } from "./support/drop-race.js";
import { createFakeTime, type FakeTime } from "./support/fake-time.js";
import { hangingStore, staleReads } from "./support/hanging-store.js";
import { thrown } from "./support/thrown.js";

const HOUR_MS = 3_600_000;

/** A real memory store behind a switch: `mode` makes every call fail or hang; `calls` counts them. */
function faultyStore(inner: Store) {
  const control = { mode: "ok" as "ok" | "fail" | "hang", calls: 0 };
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      control.calls++;
      if (control.mode === "fail") return Promise.reject(new Error("ECONNREFUSED"));
      if (control.mode === "hang") return new Promise<R>(() => {});
      return fn(...args);
    };
  const store: Store = {
    get: wrap((key) => inner.get(key)),
    set: wrap((key, value, ttlMs) => inner.set(key, value, ttlMs)),
    delete: wrap((key) => inner.delete(key)),
    acquire: wrap((key, ttlMs) => inner.acquire!(key, ttlMs)),
  };
  return { store, control };
}

/** A store with renewable leases, as `@tokenkeep/redis` offers: values in a memory store, leases here. */
function renewableLeaseStore(time: FakeTime) {
  const inner = createMemoryStore({ now: time.now });
  const leases = new Map<string, { owner: object; until: number }>();
  const renewals = { count: 0 };
  const store: Store = {
    get: (key) => inner.get(key),
    set: (key, value, ttlMs) => inner.set(key, value, ttlMs),
    delete: (key) => inner.delete(key),
    async acquire(key, ttlMs) {
      const held = leases.get(key);
      if (held && held.until > time.now()) return undefined;
      const owner = {};
      leases.set(key, { owner, until: time.now() + ttlMs });
      const owns = () => {
        const lease = leases.get(key);
        return lease?.owner === owner && lease.until > time.now();
      };
      const release = async () => {
        if (leases.get(key)?.owner === owner) leases.delete(key);
      };
      return Object.assign(release, {
        async renew(renewTtlMs: number) {
          renewals.count++;
          if (!owns()) return false;
          leases.set(key, { owner, until: time.now() + renewTtlMs });
          return true;
        },
      });
    },
  };
  return { store, renewals };
}

/** The memory store with leases that cannot be renewed (a store whose release has no `renew`). */
function withoutRenew(inner: Store): Store {
  return {
    ...inner,
    acquire: async (key, ttlMs) => {
      const release = await inner.acquire!(key, ttlMs);
      return release && (() => release());
    },
  };
}

/** A creator shared by every "instance", answering after `latencyMs` of fake time. */
function countingCreator(time: FakeTime, latencyMs = 100) {
  const state = { calls: 0, hang: false };
  const creator: TokenCreator = async () => {
    const n = ++state.calls;
    if (state.hang) return new Promise<never>(() => {});
    await new Promise<void>((resolve) => time.timers.setTimeout(resolve, latencyMs));
    return { access_token: `at-${n}`, token_type: "Bearer", expires_in: 3600 };
  };
  return { creator, state };
}

function instance(
  time: FakeTime,
  store: Store,
  creator: TokenCreator,
  extra: Partial<TokenManagerOptions> = {},
  share: ShareStoreOptions = {},
) {
  const events: TokenEvent[] = [];
  const manager: TokenManager = createTokenManager({
    creator,
    shared: shareStore(store, share),
    now: time.now,
    timers: time.timers,
    random: () => 0.5,
    onEvent: (event) => events.push(event),
    ...extra,
  });
  return { manager, events };
}

describe("token manager with a shared store", () => {
  it("two instances with 500 cold callers each make one creator call between them", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const { creator, state } = countingCreator(time);
    const a = instance(time, store, creator);
    const b = instance(time, store, creator);
    const callers = [...Array.from({ length: 500 }, () => a.manager.getToken())];
    callers.push(...Array.from({ length: 500 }, () => b.manager.getToken()));
    await time.advance(1_000);
    const sets = await Promise.all(callers);
    expect(new Set(sets.map((set) => set.accessToken))).toEqual(new Set(["at-1"]));
    expect(state.calls).toBe(1);
    const stats = [a.manager.stats(), b.manager.stats()];
    expect(stats.map((s) => s.storeWrites).sort()).toEqual([0, 1]);
    expect(stats.map((s) => s.storeHits).sort()).toEqual([0, 1]);
    expect(stats.map((s) => s.leaseWaits).sort()).toEqual([0, 1]);
  });

  it("does the same just after expiry", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const { creator, state } = countingCreator(time);
    const a = instance(time, store, creator, { refreshAheadRatio: 1 });
    const b = instance(time, store, creator, { refreshAheadRatio: 1 });
    const first = [a.manager.getToken(), b.manager.getToken()];
    await time.advance(1_000);
    await Promise.all(first);
    await time.advance(HOUR_MS);
    const callers = Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).manager.getToken());
    await time.advance(1_000);
    const sets = await Promise.all(callers);
    expect(new Set(sets.map((set) => set.accessToken))).toEqual(new Set(["at-2"]));
    expect(state.calls).toBe(2);
  });

  it("an instance whose read predates another's token, and who takes the lease after it, uses that token", async () => {
    const time = createFakeTime();
    const inner = createMemoryStore({ now: time.now });
    // B's reads see the store as it was when they started and answer 150 ms later: its first read
    // starts before A's token is written (100 ms), and it asks for the lease after A released it.
    // Only the read B makes under the lease can tell it a token is there.
    const stale = staleReads(inner, time, 150);
    const { creator, state } = countingCreator(time, 100);
    const a = instance(time, inner, creator);
    const b = instance(time, stale, creator);
    const fromA = a.manager.getToken();
    await time.settle(); // A reads and takes the lease first
    const fromB = b.manager.getToken();
    await time.advance(1_000);
    expect((await fromA).accessToken).toBe("at-1");
    expect((await fromB).accessToken).toBe("at-1");
    expect(state.calls).toBe(1);
    expect(b.manager.stats()).toMatchObject({ leaseWaits: 0, storeHits: 1, storeWrites: 0 });
  });

  it("serves a warm token without touching the store", async () => {
    const time = createFakeTime();
    const { store, control } = faultyStore(createMemoryStore({ now: time.now }));
    const { creator } = countingCreator(time, 0);
    const { manager } = instance(time, store, creator);
    const cold = manager.getToken();
    await time.advance(10);
    await cold;
    const before = control.calls;
    for (let i = 0; i < 100; i++) await manager.getToken();
    expect(control.calls).toBe(before);
  });

  it("takes over when the lease holder died mid-fetch", async () => {
    const time = createFakeTime();
    // A holder that died no longer renews: a lease without renewal stands for it.
    const store = withoutRenew(createMemoryStore({ now: time.now }));
    const { creator, state } = countingCreator(time);
    const a = instance(time, store, creator, {}, { leaseTtlMs: 2_000 });
    const b = instance(time, store, creator, {}, { leaseTtlMs: 2_000 });
    state.hang = true; // A takes the lease and never comes back
    void a.manager.getToken().catch(() => {});
    await time.settle();
    expect(state.calls).toBe(1);
    state.hang = false;
    const fromB = b.manager.getToken();
    await time.advance(1_900);
    expect(state.calls).toBe(1);
    await time.advance(1_000);
    expect((await fromB).accessToken).toBe("at-2");
    expect(state.calls).toBe(2);
    await a.manager.dispose();
  });

  it("gives every caller of every instance its answer within fetchTimeoutMs while the lease holder's fetch hangs", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const { creator, state } = countingCreator(time);
    state.hang = true;
    const fleet = Array.from({ length: 4 }, () => instance(time, store, creator));
    const start = time.now();
    const settledAfter: number[] = [];
    const outcomes = fleet.map(({ manager }) =>
      manager.getToken().then(
        () => expect.unreachable("the creator never answers"),
        (error: unknown) => {
          settledAfter.push(time.now() - start);
          return error;
        },
      ),
    );
    await time.advance(29_999);
    expect(settledAfter).toEqual([]);
    await time.advance(1);
    expect(settledAfter).toEqual([30_000, 30_000, 30_000, 30_000]);
    for (const error of await Promise.all(outcomes))
      expect(error).toMatchObject({ code: "ERR_TOKENKEEP_TIMEOUT" });
    // One instance held the lease and spent the budget (10 s attempts); the others waited for it,
    // then gave up with it instead of each starting a budget of their own.
    expect(state.calls).toBe(3);
    expect(fleet.map(({ manager }) => manager.stats().leaseWaits).sort()).toEqual([0, 1, 1, 1]);
    await time.advance(60_000);
    expect(state.calls).toBe(3);
    expect(time.pending()).toBe(0);
  });

  it("an instance whose deadline passed while it waited takes no lease and calls no creator", async () => {
    const time = createFakeTime();
    const inner = createMemoryStore({ now: time.now });
    const start = time.now();
    // Every lease asked for: when (ms after the start), and whether it was taken.
    const acquires: { at: number; taken: boolean }[] = [];
    // Every read takes 400 ms, so B's deadline passes while it reads.
    const store: Store = {
      ...inner,
      get: async (key) => {
        await new Promise<void>((resolve) => time.timers.setTimeout(resolve, 400));
        return inner.get(key);
      },
      acquire: async (key, ttlMs) => {
        const at = time.now() - start;
        const release = await inner.acquire!(key, ttlMs);
        acquires.push({ at, taken: release !== undefined });
        return release;
      },
    };
    let calls = 0;
    const creator: TokenCreator = async () => {
      calls++;
      await new Promise<void>((resolve) => time.timers.setTimeout(resolve, 200));
      throw new OAuthError({ error: "invalid_client", status: 401 });
    };
    // A takes the lease at 400 ms, reads again and its creator fails at 1 s, releasing the lease.
    const a = instance(time, store, creator);
    const b = instance(time, store, creator, { fetchTimeoutMs: 1_000 });
    const fromA = a.manager.getToken().catch((error: unknown) => error);
    // A's store key is hashed (real crypto, on a thread pool) before B starts, so A reads first and
    // takes the lease, as this case needs; started together, B won that race now and then.
    await time.settle();
    const fromB = b.manager.getToken().catch((error: unknown) => error);
    await time.advance(1_000);
    expect(await fromA).toMatchObject({ error: "invalid_client" });
    // B's read in flight at its deadline ends first (within the store's own 500 ms timeout), with the
    // lease free: B leaves it alone and gives up.
    await time.advance(500);
    expect(await fromB).toMatchObject({ code: "ERR_TOKENKEEP_TIMEOUT" });
    await time.advance(5_000);
    // A's lease is the only one taken, and nobody asks for one past B's deadline (1 s), though the
    // lease is free from then on.
    expect(acquires.filter((acquire) => acquire.taken)).toEqual([{ at: 400, taken: true }]);
    expect(acquires.filter((acquire) => acquire.at >= 1_000)).toEqual([]);
    expect(calls).toBe(1);
  });

  it("past the deadline, at most the one store call then running: a lease taken late reads nothing more", async () => {
    const time = createFakeTime();
    const inner = createMemoryStore({ now: time.now });
    const slow = <T>(ms: number, then: () => Promise<T>) =>
      new Promise<void>((resolve) => time.timers.setTimeout(resolve, ms)).then(then);
    let reads = 0;
    // Reads take 450 ms, then 499; taking the lease 499 (each within the store's 500 ms timeout).
    const store: Store = {
      ...inner,
      get: (key) => slow(++reads === 1 ? 450 : 499, () => inner.get(key)),
      acquire: (key, ttlMs) => slow(499, () => inner.acquire(key, ttlMs)),
    };
    const { creator, state } = countingCreator(time, 0);
    const { manager } = instance(time, store, creator, { fetchTimeoutMs: 700 }, { timeoutMs: 500 });
    let heardAt: number | undefined;
    const start = time.now();
    const fetching = manager.getToken().catch((error: unknown) => {
      heardAt = time.now() - start;
      return error;
    });
    // The deadline (700 ms) passes while the lease is taken (450 to 949 ms): no read after it.
    await time.advance(1_200);
    expect(heardAt).toBe(949);
    expect(await fetching).toMatchObject({ code: "ERR_TOKENKEEP_TIMEOUT" });
    expect([reads, state.calls]).toEqual([1, 0]);
  });

  it("keeps a token obtained in time when writing it to the store ends after the deadline", async () => {
    const time = createFakeTime();
    const inner = createMemoryStore({ now: time.now });
    // Every write takes 300 ms (within the store's own timeout).
    const store: Store = {
      ...inner,
      set: async (key, value, ttlMs) => {
        await new Promise<void>((resolve) => time.timers.setTimeout(resolve, 300));
        return inner.set(key, value, ttlMs);
      },
    };
    const presented: string[] = [];
    let issued = 0;
    const manager = createTokenManager({
      creator: async () => ({
        access_token: `at-${++issued}`,
        refresh_token: `rt-${issued}`,
        expires_in: 60,
      }),
      // A rotating refresh token: the one presented must never be presented again.
      refresher: async ({ previous }) => {
        presented.push(previous?.refreshToken ?? "");
        await new Promise<void>((resolve) => time.timers.setTimeout(resolve, 900));
        return { access_token: `at-${++issued}`, refresh_token: `rt-${issued}`, expires_in: 60 };
      },
      shared: shareStore(store, { timeoutMs: 500 }),
      fetchTimeoutMs: 1_000,
      now: time.now,
      timers: time.timers,
      random: () => 0.5,
    });
    const first = manager.getToken();
    await time.advance(300);
    expect((await first).accessToken).toBe("at-1");
    // The refresh answers at 900 ms; storing it ends at 1.2 s, past the fetch's 1 s deadline.
    const renewed = manager.getToken({ forceRefresh: true });
    await time.advance(1_300);
    expect((await renewed).accessToken).toBe("at-2");
    expect(presented).toEqual(["rt-1"]);
    await manager.dispose();
  });

  it("renews its lease during a slow fetch when the store can, so no other instance fetches too", async () => {
    const time = createFakeTime();
    const { store, renewals } = renewableLeaseStore(time);
    const { creator, state } = countingCreator(time, 5_000);
    const a = instance(time, store, creator, {}, { leaseTtlMs: 2_000 });
    const b = instance(time, store, creator, {}, { leaseTtlMs: 2_000 });
    const fromA = a.manager.getToken();
    await time.settle();
    const fromB = b.manager.getToken();
    await time.advance(6_000);
    expect((await fromA).accessToken).toBe("at-1");
    expect((await fromB).accessToken).toBe("at-1");
    expect(state.calls).toBe(1);
    expect(renewals.count).toBeGreaterThanOrEqual(4);
  });

  it("a renewal answered after the fetch ended renews nothing more", async () => {
    const time = createFakeTime();
    const { store: renewing } = renewableLeaseStore(time);
    // Every renewal is confirmed 300 ms after it is sent: the one sent at 1 s (a third of the 3 s
    // lease) is still on its way when the 1.2 s fetch ends and releases the lease.
    const renewals: number[] = [];
    const store: Store = {
      ...renewing,
      acquire: async (key, ttlMs) => {
        const release = await renewing.acquire!(key, ttlMs);
        if (release?.renew === undefined) return release;
        const renew = release.renew.bind(release);
        return Object.assign(() => release(), {
          renew: async (renewTtlMs: number) => {
            renewals.push(time.now());
            const kept = await renew(renewTtlMs);
            await new Promise<void>((resolve) => time.timers.setTimeout(resolve, 300));
            return kept;
          },
        });
      },
    };
    const { creator } = countingCreator(time, 1_200);
    const { manager } = instance(time, store, creator, {}, { leaseTtlMs: 3_000 });
    const start = time.now();
    const pending = manager.getToken();
    await time.advance(2_000);
    expect((await pending).accessToken).toBe("at-1");
    await time.advance(10_000);
    expect(renewals.map((at) => at - start)).toEqual([1_000]);
  });

  it("without renewal, a fetch slower than the lease is taken over (the reason renew exists)", async () => {
    const time = createFakeTime();
    const store = withoutRenew(createMemoryStore({ now: time.now }));
    const { creator, state } = countingCreator(time, 5_000);
    const a = instance(time, store, creator, {}, { leaseTtlMs: 2_000 });
    const b = instance(time, store, creator, {}, { leaseTtlMs: 2_000 });
    const both = [a.manager.getToken(), b.manager.getToken()];
    await time.advance(10_000);
    await Promise.all(both);
    expect(state.calls).toBe(2);
  });

  it("adopts the token another instance refreshed ahead of expiry instead of fetching again", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const { creator, state } = countingCreator(time, 0);
    const early = instance(time, store, creator, { random: () => 0.99 });
    const late = instance(time, store, creator, { random: () => 0 });
    // The early instance hashes its store key (real crypto, on a thread pool) and takes the lease
    // first, so the late one adopts its token: started together, the late one won now and then.
    const fromEarly = early.manager.getToken();
    await time.settle();
    const cold = [fromEarly, late.manager.getToken()];
    await time.advance(100);
    await Promise.all(cold);
    expect(state.calls).toBe(1);
    // The early instance refreshes at ~67.6% of the hour, the late one at 75%.
    await time.advance(HOUR_MS * 0.7);
    await early.manager.getToken();
    await time.advance(100);
    expect(state.calls).toBe(2);
    await time.advance(HOUR_MS * 0.06);
    expect((await late.manager.getToken()).accessToken).toBe("at-1");
    await time.advance(100);
    expect((await late.manager.getToken()).accessToken).toBe("at-2");
    expect(state.calls).toBe(2);
    expect(late.manager.stats().storeHits).toBe(2);
  });

  it("invalidate also drops the shared copy, so a new instance does not pick up the rejected token", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const { creator, state } = countingCreator(time, 0);
    const a = instance(time, store, creator);
    const first = a.manager.getToken();
    await time.advance(10);
    const bad = await first;
    expect(await a.manager.invalidate(bad)).toBe(true);
    const c = instance(time, store, creator);
    const fresh = c.manager.getToken();
    await time.advance(10);
    expect((await fresh).accessToken).toBe("at-2");
    expect(state.calls).toBe(2);
  });

  it("invalidate never deletes a newer token another instance wrote after it read (compare-and-delete)", async () => {
    const time = createFakeTime();
    const inner = createMemoryStore({ now: time.now });
    const { creator } = countingCreator(time, 0);
    const key = `tokenkeep:token:${await hashIdentityKey("")}`;
    // Between invalidate's read and its delete, another instance writes its newer token.
    let interleave: (() => Promise<void>) | undefined;
    const store: Store = {
      ...inner,
      get: async (k) => {
        const value = await inner.get(k);
        const then = interleave;
        interleave = undefined;
        await then?.();
        return value;
      },
    };
    const a = instance(time, store, creator);
    const first = a.manager.getToken();
    await time.advance(10);
    const bad = await first;
    const newer = { set: { ...bad, accessToken: "at-newer", raw: {} }, obtainedAt: time.now() };
    interleave = () => inner.set(key, newer, 60_000);
    expect(await a.manager.invalidate(bad)).toBe(true);
    expect(await inner.get(key)).toMatchObject({ set: { accessToken: "at-newer" } });
  });

  it("dropping a refresh token never replaces a newer set another instance wrote after the read (compare-and-set)", async () => {
    const result = await dropWhileAnotherWrites((now) => createMemoryStore({ now }), "tokenkeep:");
    expect(result.failedA).toMatchObject({ status: 502 });
    expect(result.stored).toMatchObject({ set: { accessToken: "b-2", refreshToken: "rt-b" } });
    expect(result.firstB).toBe("b-2");
    expect(result.secondB).toBe("B-3"); // B renews with the newer refresh token, not the creator
    expect(result.presented).toEqual(["A:rt-1", "B:rt-b"]);
  });

  it("a store without compareAndSet: the drop still strips the spent refresh token (never presented again)", async () => {
    const result = await dropWhileAnotherWrites((now) => {
      const { compareAndSet: _, ...rest } = createMemoryStore({ now });
      return rest;
    }, "tokenkeep:");
    // The documented cost: the newer set written in the window is replaced, its refresh token lost.
    expect(result.stored).toMatchObject({ set: { accessToken: "c-1" } });
    expect(result.stored).not.toHaveProperty("set.refreshToken");
    expect(result.presented).toEqual(["A:rt-1"]);
  });

  it("drops the refresh token from an absent shared set on a store that answers null for a missing key", async () => {
    let clock = Date.parse("2026-12-06T12:00:00Z");
    const now = () => clock;
    const inner = createMemoryStore({ now });
    // As a store on ioredis or a KV client answers: null, not undefined, for a key not there.
    const store: Store = {
      get: async (key) => (await inner.get(key)) ?? null,
      set: (key, value, ttlMs) => inner.set(key, value, ttlMs),
      delete: (key) => inner.delete(key),
      acquire: (key, ttlMs) => inner.acquire(key, ttlMs),
      compareAndDelete: (key, expected) => inner.compareAndDelete(key, expected),
      compareAndSet: (key, expected, value, ttlMs) => inner.compareAndSet(key, expected, value, ttlMs),
    };
    const key = `tokenkeep:token:${await hashIdentityKey("")}`;
    let created = 0;
    const bad = () => new InvalidResponseError("502", { status: 502, transient: true });
    const manager = createTokenManager({
      now,
      retry: { retries: 0 },
      refreshAheadRatio: 1,
      shared: shareStore(store),
      creator: async () => {
        if (++created > 1) throw bad();
        return { access_token: "c-1", expires_in: 60, refresh_token: "rt-1" };
      },
      refresher: async () => {
        throw bad(); // in doubt: rt-1 is dropped
      },
    });
    try {
      await manager.getToken();
      await inner.delete(key); // the shared set is gone (evicted, expired early)
      clock += 60_000;
      await expect(manager.getToken()).rejects.toMatchObject({ status: 502 });
      // The copy without rt-1 is written all the same, so no other instance presents rt-1 again.
      const stored = await inner.get(key);
      expect(stored).toMatchObject({ set: { accessToken: "c-1" } });
      expect(stored).not.toHaveProperty("set.refreshToken");
    } finally {
      await manager.dispose();
    }
  });

  it("ignores a store value it cannot read", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const { creator, state } = countingCreator(time, 0);
    const { manager } = instance(time, store, creator, {}, { keyPrefix: "x:" });
    const hash = await hashIdentityKey("");
    await store.set(`x:token:${hash}`, { set: "garbage" }, 60_000);
    const pending = manager.getToken();
    await time.advance(10);
    expect((await pending).accessToken).toBe("at-1");
    expect(state.calls).toBe(1);
    expect(await store.get(`x:token:${hash}`)).toMatchObject({ set: { accessToken: "at-1" } });
  });
});

describe("token manager with a failing store (degraded mode)", () => {
  it("keeps fetching per process when the store fails, reporting it once", async () => {
    const time = createFakeTime();
    const { store, control } = faultyStore(createMemoryStore({ now: time.now }));
    control.mode = "fail";
    const { creator, state } = countingCreator(time, 0);
    const { manager, events } = instance(time, store, creator);
    const sets = [];
    for (const user of ["a", "b", "c"]) {
      const pending = manager.getToken({ identity: { user } });
      await time.advance(10);
      sets.push(await pending);
    }
    expect(sets.map((set) => set.accessToken)).toEqual(["at-1", "at-2", "at-3"]);
    expect(events.filter((event) => event.type === "store-degraded")).toHaveLength(1);
    expect(manager.stats()).toMatchObject({ storeDegraded: true, storeDegradedCount: 1, storeFailures: 1 });
    expect(state.calls).toBe(3);
  });

  it("reports the store down once when calls in flight together fail together", async () => {
    const time = createFakeTime();
    const { store, failReads } = hangingStore({ leases: true });
    const { creator, state } = countingCreator(time, 0);
    const { manager, events } = instance(time, store, creator);
    const pending = ["a", "b", "c"].map((user) => manager.getToken({ identity: { user } }));
    await time.settle(); // the three reads are in flight
    failReads();
    await time.advance(10);
    expect((await Promise.all(pending)).map((set) => set.accessToken).sort()).toEqual([
      "at-1",
      "at-2",
      "at-3",
    ]);
    expect(state.calls).toBe(3);
    expect(events.filter((event) => event.type === "store-degraded")).toHaveLength(1);
    expect(manager.stats()).toMatchObject({ storeDegraded: true, storeDegradedCount: 1, storeFailures: 3 });
  });

  it("keeps fetching per process when only the lease fails: reads answer, acquire does not", async () => {
    const time = createFakeTime();
    const inner = createMemoryStore({ now: time.now });
    const store: Store = { ...inner, acquire: () => Promise.reject(new Error("ECONNREFUSED")) };
    const { creator, state } = countingCreator(time, 0);
    const { manager, events } = instance(time, store, creator);
    const pending = manager.getToken();
    await time.advance(10);
    expect((await pending).accessToken).toBe("at-1");
    expect(events.filter((event) => event.type === "store-degraded")).toHaveLength(1);
    expect(state.calls).toBe(1);
  });

  it("gives up on a hanging store after timeoutMs", async () => {
    const time = createFakeTime();
    const { store, control } = faultyStore(createMemoryStore({ now: time.now }));
    control.mode = "hang";
    const { creator } = countingCreator(time, 0);
    const { manager } = instance(time, store, creator, {}, { timeoutMs: 300 });
    const pending = manager.getToken();
    await time.advance(299);
    expect(manager.stats().storeDegraded).toBe(false);
    await time.advance(1);
    await time.advance(10);
    expect((await pending).accessToken).toBe("at-1");
    expect(manager.stats()).toMatchObject({ storeDegraded: true, storeFailures: 1 });
  });

  it("resumes sharing when the store answers again, and counts the degraded period", async () => {
    const time = createFakeTime();
    const { store, control } = faultyStore(createMemoryStore({ now: time.now }));
    const { creator } = countingCreator(time, 0);
    const { manager, events } = instance(time, store, creator, {}, { probeIntervalMs: 1_000 });
    control.mode = "fail";
    const down = manager.getToken({ identity: { user: "a" } });
    await time.advance(10);
    await down;
    const pendingWhileDegraded = time.pending();
    control.mode = "ok";
    // No call reaches the store: the probe timer alone notices the recovery, within one interval.
    await time.advance(1_000);
    expect(manager.stats().storeDegraded).toBe(false);
    expect(events.map((event) => event.type).filter((type) => type.startsWith("store-"))).toEqual([
      "store-degraded",
      "store-recovered",
    ]);
    // The probe runs only while degraded: one timer fewer once recovered.
    expect(time.pending()).toBe(pendingWhileDegraded - 1);
    const up = manager.getToken({ identity: { user: "b" } });
    await time.advance(10);
    await up;
    const stats = manager.stats();
    expect(stats.storeDegradedMs).toBeGreaterThanOrEqual(1_000);
    expect(stats.storeDegradedMs).toBeLessThan(1_100);
    expect(stats.storeWrites).toBe(1);
  });

  it("calls the store no more once disposed: invalidate resolves false and arms no probe", async () => {
    const time = createFakeTime();
    const { store, control } = faultyStore(createMemoryStore({ now: time.now }));
    const { creator } = countingCreator(time, 0);
    const { manager, events } = instance(time, store, creator);
    await manager.dispose();
    control.mode = "fail";
    expect(await manager.invalidate("at-1")).toBe(false);
    await time.advance(60_000);
    expect(control.calls).toBe(0);
    expect(time.pending()).toBe(0);
    expect(events.filter((event) => event.type.startsWith("store-"))).toEqual([]);
  });

  it("calls no creator for a fetch that dispose ended while it read the store", async () => {
    const time = createFakeTime();
    let answerRead!: (value: undefined) => void;
    // No leases, and a read that waits for the test: the fetch goes on per process after it.
    const store: Store = {
      get: () =>
        new Promise((resolve) => {
          answerRead = resolve;
        }),
      set: async () => {},
      delete: async () => {},
    };
    const { creator, state } = countingCreator(time, 0);
    const { manager } = instance(time, store, creator, {}, { timeoutMs: 60_000 });
    const fetching = manager.getToken().catch((error: unknown) => error);
    await time.settle();
    await manager.dispose();
    answerRead(undefined);
    await time.settle();
    expect(await fetching).toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
    expect(state.calls).toBe(0);
  });

  it("lets no probe running at dispose re-arm itself", async () => {
    const time = createFakeTime();
    const { store, counted, failReads } = hangingStore();
    const { creator } = countingCreator(time, 0);
    const { manager, events } = instance(time, store, creator, {}, { probeIntervalMs: 1_000 });
    const down = manager.getToken();
    await time.advance(500);
    expect((await down).accessToken).toBe("at-1");
    await time.advance(1_000);
    expect(counted.calls).toBe(2); // the read that timed out, then the probe's read, still running
    await manager.dispose();
    failReads();
    await time.settle();
    expect(time.pending()).toBe(0);
    await time.advance(60_000);
    expect(counted.calls).toBe(2);
    expect(events.filter((event) => event.type.startsWith("store-")).map((event) => event.type)).toEqual([
      "store-degraded",
    ]);
  });

  it("checks shareStore's arguments when it is called, naming what was expected", () => {
    const problems = (run: () => unknown) => {
      const error = thrown(run);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
      return error.cause;
    };
    expect(problems(() => shareStore({ get: async () => undefined } as unknown as Store))).toEqual([
      "store: expected a Store (get, set, delete)",
    ]);
    const store = createMemoryStore();
    expect(
      problems(() =>
        shareStore(store, {
          keyPrefix: 1,
          leaseTtlMs: 0,
          timeoutMs: -1,
          probeIntervalMs: Number.NaN,
        } as never),
      ),
    ).toEqual([
      "keyPrefix: expected string",
      "leaseTtlMs: expected a number > 0 and <= 2147483647",
      "timeoutMs: expected a number > 0 and <= 2147483647",
      "probeIntervalMs: expected a number > 0 and <= 2147483647",
    ]);
    expect(
      problems(() =>
        createTokenManager({ creator: async () => ({ access_token: "a" }), shared: store as never }),
      ),
    ).toEqual(["shared: expected shareStore(store) from @tokenkeep/core/shared"]);
  });
});
