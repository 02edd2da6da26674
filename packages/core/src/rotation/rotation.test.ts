import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { createFakeTime, type FakeTime } from "../../test/support/fake-time.js";
import { hangingStore, staleReads } from "../../test/support/hanging-store.js";
import {
  InvalidResponseError,
  isOAuthError,
  isTimeoutError,
  isTokenkeepError,
  NetworkError,
  OAuthError,
} from "../errors/errors.js";
import { sha256Hex } from "../internal/sha256.js";
import { createMemoryStore, type MemoryStore } from "../memory-store/memory-store.js";
import { shareStore } from "../shared/share-store.js";
import type { Store } from "../store/store.js";
import type { TokenResponse } from "../token/token-response.js";
import type { JsonValue, TokenSet } from "../token/token-set.js";
import {
  createRotationCoordinator,
  type RotationCoordinator,
  type RotationCoordinatorOptions,
  type RotationEvent,
  type RotationRedeemContext,
} from "./rotation.js";

/**
 * A rotating, reuse-detecting authorization server in miniature (what oidc-provider does with
 * `rotateRefreshToken: true`): each refresh token works once; presenting a used one revokes the
 * family. Its answer takes `latencyMs` of fake time, and it may ignore the abort signal.
 */
function rotatingServer(time: FakeTime, options: { latencyMs?: number; ignoreAbort?: boolean } = {}) {
  let counter = 0;
  const live = new Set(["rt-0"]);
  const used = new Set<string>();
  const state = { redemptions: 0, reuses: 0, concurrent: 0, maxConcurrent: 0, revoked: false };
  const redeem = ({ refreshToken, signal }: RotationRedeemContext): Promise<TokenResponse> => {
    state.redemptions++;
    state.concurrent++;
    state.maxConcurrent = Math.max(state.maxConcurrent, state.concurrent);
    return new Promise<TokenResponse>((resolve, reject) => {
      const answer = () => {
        state.concurrent--;
        if (state.revoked || used.has(refreshToken) || !live.has(refreshToken)) {
          if (used.has(refreshToken)) {
            state.reuses++;
            state.revoked = true;
            live.clear();
          }
          return reject(new OAuthError({ error: "invalid_grant", status: 400 }));
        }
        live.delete(refreshToken);
        used.add(refreshToken);
        counter++;
        live.add(`rt-${counter}`);
        resolve({
          access_token: `at-${counter}`,
          token_type: "bearer",
          expires_in: 300,
          refresh_token: `rt-${counter}`,
        });
      };
      const handle = time.timers.setTimeout(answer, options.latencyMs ?? 10);
      if (!options.ignoreAbort) {
        signal.addEventListener("abort", () => {
          // The request was on the wire: the server may still process it (here it does not).
          time.timers.clearTimeout(handle);
          state.concurrent--;
          reject(signal.reason);
        });
      }
    });
  };
  return { redeem, state, isLive: (token: string) => live.has(token) };
}

/** A memory store whose calls take fake time: `latency.get` etc. in ms, changeable during a test. */
function slowStore(time: FakeTime, inner: MemoryStore = createMemoryStore({ now: time.now })) {
  const latency = { get: 0, set: 0, acquire: 0, delete: 0 };
  const later = <T>(ms: number, work: () => Promise<T>) =>
    ms === 0 ? work() : new Promise<T>((resolve) => time.timers.setTimeout(() => resolve(work()), ms));
  const store: Store = {
    get: (key) => later(latency.get, () => inner.get(key)),
    set: (key, value, ttl) => later(latency.set, () => inner.set(key, value, ttl)),
    delete: (key) => later(latency.delete, () => inner.delete(key)),
    compareAndDelete: (key, value) => later(latency.delete, () => inner.compareAndDelete(key, value)),
    acquire: (key, ttl) => later(latency.acquire, () => inner.acquire(key, ttl)),
  };
  return { store, inner, latency };
}

const code = (error: unknown) => (isTokenkeepError(error) ? error.code : error);

function fleet(
  time: FakeTime,
  store: Store,
  redeem: RotationCoordinatorOptions["redeem"],
  count: number,
  extra: Partial<RotationCoordinatorOptions> & { leaseTtlMs?: number; timeoutMs?: number } = {},
): RotationCoordinator[] {
  const { leaseTtlMs, timeoutMs, ...rest } = extra;
  return Array.from({ length: count }, () =>
    createRotationCoordinator({
      shared: shareStore(store, { leaseTtlMs: leaseTtlMs ?? 500, timeoutMs: timeoutMs ?? 1_000 }),
      redeem,
      now: time.now,
      timers: time.timers,
      ...rest,
    }),
  );
}

/** Starts `rotate` and records how it settled, without an unhandled rejection. */
function track(promise: Promise<TokenSet>) {
  const outcome: { value?: TokenSet; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(outcome, { value, done: true }),
    (error: unknown) => Object.assign(outcome, { error, done: true }),
  );
  return outcome;
}

describe("createRotationCoordinator: one redemption, whatever the timing", () => {
  it("redeems once for many concurrent callers in several instances sharing a store", async () => {
    const time = createFakeTime();
    const { store } = slowStore(time);
    const server = rotatingServer(time, { latencyMs: 20 });
    const instances = fleet(time, store, server.redeem, 3);
    const calls = Array.from({ length: 150 }, (_, index) => track(instances[index % 3]!.rotate("rt-0")));
    await time.advance(2_000);
    expect(calls.every((call) => call.value?.refreshToken === "rt-1")).toBe(true);
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0 });
    const stats = instances.map((instance) => instance.stats());
    expect(stats.reduce((sum, s) => sum + s.redemptions, 0)).toBe(1);
    expect(stats.reduce((sum, s) => sum + s.coalesced, 0)).toBe(147);
    expect(stats.reduce((sum, s) => sum + s.successorHits, 0)).toBe(2);
  });

  it("the measured interleaving: a 300 ms store read and a 450 ms redemption under 500 ms leases", async () => {
    // The timeline of the issue: A takes the lease, its re-read takes 300 ms, its redemption 450 ms,
    // so it would outlive its lease; B and C poll, and used to take the expired lease and redeem too.
    const time = createFakeTime();
    const { store, latency } = slowStore(time);
    const server = rotatingServer(time, { latencyMs: 450 });
    const [a, b, c] = fleet(time, store, server.redeem, 3, { leaseTtlMs: 500 });
    const first = track(a!.rotate("rt-0"));
    await time.advance(1);
    latency.get = 300;
    const others = [track(b!.rotate("rt-0")), track(c!.rotate("rt-0"))];
    await time.advance(5_000);
    latency.get = 0;
    expect(server.state.redemptions).toBe(1);
    expect(server.state.maxConcurrent).toBe(1);
    expect(server.state.reuses).toBe(0);
    // Whatever each caller got, it is the successor or a coded error, never a reuse.
    for (const call of [first, ...others]) {
      expect(call.done).toBe(true);
      if (call.value === undefined) expect(code(call.error)).toMatch(/^ERR_TOKENKEEP_/);
      else expect(call.value.refreshToken).toBe("rt-1");
    }
    // A later arrival finds the successor if the redemption succeeded, and never redeems.
    const late = track(c!.rotate("rt-0"));
    await time.advance(10);
    expect(server.state.redemptions).toBe(1);
    if (server.isLive("rt-1")) expect(late.value?.refreshToken).toBe("rt-1");
  });

  it("counts the lease from before acquire: a slow acquire answer shortens the redemption, it does not extend it", async () => {
    const time = createFakeTime();
    const { store, latency } = slowStore(time);
    const server = rotatingServer(time, { latencyMs: 350 });
    const [, b] = fleet(time, store, server.redeem, 2, { leaseTtlMs: 500 });
    // Leases are not renewed (the lease has no renew) so the holder must stop before 500 - 100 ms.
    const noRenew: Store = {
      ...store,
      acquire: async (key, ttl) => {
        const release = await store.acquire!(key, ttl);
        return release && (() => release());
      },
    };
    const [a2] = fleet(time, noRenew, server.redeem, 1, { leaseTtlMs: 500 });
    latency.acquire = 200;
    const held = track(a2!.rotate("rt-0"));
    await time.advance(50);
    const waiting = track(b!.rotate("rt-0"));
    await time.advance(3_000);
    // 200 ms to acquire + 350 ms to redeem passes the lease's safe end (400 ms): stopped, in doubt.
    expect(code(held.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(server.state.redemptions).toBe(1);
    expect(code(waiting.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
  });

  it("renews the lease while a slow redemption runs, so the others wait for its successor", async () => {
    const time = createFakeTime();
    const { store } = slowStore(time);
    const server = rotatingServer(time, { latencyMs: 1_200 });
    const [a, b] = fleet(time, store, server.redeem, 2, { leaseTtlMs: 500, redeemTimeoutMs: 5_000 });
    const first = track(a!.rotate("rt-0"));
    await time.advance(50);
    const second = track(b!.rotate("rt-0"));
    await time.advance(3_000);
    expect(first.value?.refreshToken).toBe("rt-1");
    expect(second.value?.refreshToken).toBe("rt-1");
    expect(server.state.redemptions).toBe(1);
    expect(b!.stats().leaseWaits).toBe(1);
  });

  it("a caller whose read predates the holder's answer, and who takes the lease after it, gets the successor from its read under the lease", async () => {
    const time = createFakeTime();
    const inner = createMemoryStore({ now: time.now });
    const server = rotatingServer(time, { latencyMs: 200 });
    // B's reads see the store as it was when they started and answer 150 ms later: its marker and
    // successor reads both start before A's answer (200 ms), and it asks for the lease after A
    // released it. Only the read B makes under the lease can tell it the token is spent.
    const stale = staleReads(inner, time, 150);
    const [a] = fleet(time, inner, server.redeem, 1);
    const [b] = fleet(time, stale, server.redeem, 1);
    const first = track(a!.rotate("rt-0"));
    await time.advance(1);
    const second = track(b!.rotate("rt-0"));
    await time.advance(2_000);
    expect(first.value?.refreshToken).toBe("rt-1");
    expect(second.value?.refreshToken).toBe("rt-1");
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0 });
    expect(b!.stats()).toMatchObject({ leaseWaits: 0, successorHits: 1, inDoubt: 0 });
    // The marker A left still says redeemed: a later arrival is handed the successor too.
    const later = track(b!.rotate("rt-0"));
    await time.advance(1_000);
    expect(later.value?.refreshToken).toBe("rt-1");
  });

  it("a redemption that outlives its lease and ignores its abort: one redemption, in doubt, then its late successor", async () => {
    const time = createFakeTime();
    const { store } = slowStore(time);
    const server = rotatingServer(time, { latencyMs: 2_000, ignoreAbort: true });
    const events: string[] = [];
    const [a, b] = fleet(time, store, server.redeem, 2, {
      leaseTtlMs: 500,
      redeemTimeoutMs: 1_000,
      onEvent: (event: RotationEvent) => events.push(event.type),
    });
    const first = track(a!.rotate("rt-0"));
    const second = track(b!.rotate("rt-0"));
    await time.advance(1_500);
    expect(code(first.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(code(second.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    // Between the abort and the answer, a new arrival is told the same: it does not redeem.
    const meanwhile = track(b!.rotate("rt-0"));
    await time.advance(10);
    expect(code(meanwhile.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(server.state.redemptions).toBe(1);
    // The answer arrives after all: its successor is published for later arrivals.
    await time.advance(1_000);
    expect(server.isLive("rt-1")).toBe(true);
    const later = track(b!.rotate("rt-0"));
    await time.advance(10);
    expect(later.value?.refreshToken).toBe("rt-1");
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0 });
    expect(events).toContain("in-doubt");
  });

  it("a holder that died mid-redemption: the next arrival after its lease expired gets in doubt, not a redemption", async () => {
    const time = createFakeTime();
    const { store } = slowStore(time);
    const server = rotatingServer(time);
    const [survivor] = fleet(time, store, server.redeem, 1, { leaseTtlMs: 500 });
    // What a holder leaves when it dies after its marker: the marker, and a lease that expires.
    const hash = await sha256Hex("rt-0");
    await store.set(
      `tokenkeep:rotation:marker:${hash}`,
      { state: "redeeming", at: time.now(), by: "x" },
      60_000,
    );
    await store.acquire!(`tokenkeep:rotation:lease:${hash}`, 500);
    const late = track(survivor!.rotate("rt-0"));
    await time.advance(2_000);
    expect(code(late.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(survivor!.stats()).toMatchObject({ leaseWaits: 1, inDoubt: 1, redemptions: 0 });
    expect(server.state.redemptions).toBe(0);
  });

  it("takes over the lease of a holder that died before its marker, once the lease expired", async () => {
    const time = createFakeTime();
    const { store } = slowStore(time);
    const server = rotatingServer(time);
    const events: string[] = [];
    const [rotation] = fleet(time, store, server.redeem, 1, {
      leaseTtlMs: 500,
      onEvent: (event: RotationEvent) => events.push(event.type),
    });
    await store.acquire!(`tokenkeep:rotation:lease:${await sha256Hex("rt-0")}`, 500);
    const call = track(rotation!.rotate("rt-0"));
    await time.advance(1_000);
    expect(call.value?.refreshToken).toBe("rt-1");
    expect(events).toEqual(["lease-wait", "redeemed"]);
    expect(server.state.redemptions).toBe(1);
  });

  it("store reads that time out: a transient STORE_UNAVAILABLE, no redemption per process", async () => {
    const time = createFakeTime();
    const { store, latency } = slowStore(time);
    const server = rotatingServer(time);
    const events: RotationEvent[] = [];
    const [a, b] = fleet(time, store, server.redeem, 2, {
      timeoutMs: 100,
      onEvent: (event: RotationEvent) => events.push(event),
    });
    latency.get = 5_000;
    const calls = [track(a!.rotate("rt-0")), track(a!.rotate("rt-0")), track(b!.rotate("rt-0"))];
    await time.advance(200);
    for (const call of calls) {
      expect(code(call.error)).toBe("ERR_TOKENKEEP_STORE_UNAVAILABLE");
      expect((call.error as { transient: boolean }).transient).toBe(true);
    }
    expect(server.state.redemptions).toBe(0);
    // Reported once per instance.
    expect(events.filter((event) => event.type === "store-degraded")).toHaveLength(2);
    // While degraded, callers fail at once; the probe finds the store again, and rotation resumes.
    latency.get = 0;
    const during = track(a!.rotate("rt-0"));
    await time.advance(1);
    expect(code(during.error)).toBe("ERR_TOKENKEEP_STORE_UNAVAILABLE");
    await time.advance(5_000);
    expect(a!.stats().storeDegraded).toBe(false);
    expect(events.map((event) => event.type)).toContain("store-recovered");
    const after = track(a!.rotate("rt-0"));
    await time.advance(100);
    expect(after.value?.refreshToken).toBe("rt-1");
    expect(server.state.redemptions).toBe(1);
  });

  it("a marker write that times out: nothing is redeemed", async () => {
    const time = createFakeTime();
    const { store, latency } = slowStore(time);
    const server = rotatingServer(time);
    const [a] = fleet(time, store, server.redeem, 1, { timeoutMs: 100 });
    latency.set = 5_000;
    const call = track(a!.rotate("rt-0"));
    await time.advance(6_000);
    expect(code(call.error)).toBe("ERR_TOKENKEEP_STORE_UNAVAILABLE");
    expect(server.state.redemptions).toBe(0);
  });

  it("a store failing outright: every caller gets the transient error, with the store's as its cause; none redeems", async () => {
    const time = createFakeTime();
    const down = () => Promise.reject(new Error("down: READONLY"));
    const failing: Store = { get: down, set: down, delete: down, acquire: down };
    const server = rotatingServer(time);
    const [rotation] = fleet(time, failing, server.redeem, 1);
    const calls = Array.from({ length: 20 }, () => track(rotation!.rotate("rt-0")));
    await time.advance(10);
    expect(calls.map((call) => code(call.error))).toEqual(Array(20).fill("ERR_TOKENKEEP_STORE_UNAVAILABLE"));
    // Why the store fails reaches every caller of the degraded period, not only the first event.
    for (const call of calls)
      expect((call.error as Error).cause).toMatchObject({ message: "down: READONLY" });
    expect(server.state.redemptions).toBe(0);
    expect(rotation!.stats()).toMatchObject({ storeDegraded: true, storeDegradedCount: 1 });
  });

  it("a store that refuses the lease, or fails the read made under it: the transient error, nothing redeemed", async () => {
    for (const failing of ["acquire", "read under the lease"] as const) {
      const time = createFakeTime();
      const inner = createMemoryStore({ now: time.now });
      let leased = false;
      const store: Store = {
        ...inner,
        get: (key) => (leased ? Promise.reject(new Error("down: READONLY")) : inner.get(key)),
        acquire: async (key, ttlMs) => {
          if (failing === "acquire") throw new Error("down: READONLY");
          const release = await inner.acquire!(key, ttlMs);
          leased = true;
          return release;
        },
      };
      const server = rotatingServer(time);
      const [rotation] = fleet(time, store, server.redeem, 1);
      const call = track(rotation!.rotate("rt-0"));
      await time.advance(10);
      expect(code(call.error), failing).toBe("ERR_TOKENKEEP_STORE_UNAVAILABLE");
      expect((call.error as Error).cause, failing).toMatchObject({ message: "down: READONLY" });
      expect(server.state.redemptions, failing).toBe(0);
    }
  });

  it("hands late arrivals the successor, then refuses the old token as superseded without presenting it", async () => {
    const time = createFakeTime();
    const { store } = slowStore(time);
    const server = rotatingServer(time);
    const [a, b] = fleet(time, store, server.redeem, 2, { successorTtlMs: 10_000 });
    const first = track(a!.rotate("rt-0"));
    await time.advance(100);
    await time.advance(9_800);
    const late = track(b!.rotate("rt-0"));
    await time.advance(10);
    expect(late.value).toEqual(first.value);
    // Ten minutes later: the successor is gone, the marker is not.
    await time.advance(600_000);
    const stale = track(b!.rotate("rt-0"));
    await time.advance(10);
    expect(code(stale.error)).toBe("ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED");
    expect(b!.stats().superseded).toBe(1);
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0, revoked: false });
    expect(server.isLive("rt-1")).toBe(true);
  });

  it("records a permanent failure in the marker, and never over a successor", async () => {
    const time = createFakeTime();
    const { store, inner } = slowStore(time);
    let calls = 0;
    const redeem = async (): Promise<TokenResponse> => {
      calls++;
      throw new OAuthError({
        error: "invalid_grant",
        errorDescription: "grant request is invalid",
        status: 400,
      });
    };
    const [a, b] = fleet(time, store, redeem, 2);
    const outcomes = [track(a!.rotate("dead")), track(b!.rotate("dead")), track(b!.rotate("dead"))];
    await time.advance(100);
    const late = track(a!.rotate("dead"));
    await time.advance(100);
    expect(calls).toBe(1);
    for (const outcome of [...outcomes, late]) expect(isOAuthError(outcome.error)).toBe(true);
    expect(late.error).toMatchObject({
      error: "invalid_grant",
      status: 400,
      errorDescription: "grant request is invalid",
    });
    const hash = await sha256Hex("dead");
    expect(await inner.get(`tokenkeep:rotation:successor:${hash}`)).toBeUndefined();
    expect(await inner.get(`tokenkeep:rotation:marker:${hash}`)).toMatchObject({ state: "failed" });
  });

  // RFC 9449 section 8: a use_dpop_nonce refuses the proof before the grant is looked at.
  it.each([
    [429, "slow_down"],
    [400, "use_dpop_nonce"],
  ])(
    "takes its claim back when the server refused before redeeming (%i %s): the next rotation redeems",
    async (status, error) => {
      const time = createFakeTime();
      let calls = 0;
      const redeem = async (): Promise<TokenResponse> => {
        calls++;
        if (calls === 1) throw new OAuthError({ error, status });
        return { access_token: "at", expires_in: 60, refresh_token: "rt-next" };
      };
      const [rotation] = fleet(time, createMemoryStore({ now: time.now }), redeem, 1);
      const first = track(rotation!.rotate("rt"));
      await time.advance(10);
      expect(first.error).toMatchObject({ status, error, transient: true });
      const second = track(rotation!.rotate("rt"));
      await time.advance(10);
      expect(second.value?.refreshToken).toBe("rt-next");
      expect(calls).toBe(2);
    },
  );

  it("treats a network failure during the redemption as in doubt: the token is not presented again", async () => {
    const time = createFakeTime();
    let calls = 0;
    const [rotation] = fleet(
      time,
      createMemoryStore({ now: time.now }),
      async () => {
        calls++;
        throw new NetworkError("connection reset");
      },
      1,
    );
    const first = track(rotation!.rotate("rt"));
    await time.advance(10);
    expect(code(first.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect((first.error as Error).cause).toBeInstanceOf(NetworkError);
    const second = track(rotation!.rotate("rt"));
    await time.advance(10);
    expect(code(second.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(calls).toBe(1);
  });

  it("refuses a redeemed token set whose expiresAt is no time: in doubt, never handed out", async () => {
    const time = createFakeTime();
    let calls = 0;
    const redeem = async (): Promise<TokenSet> => {
      calls++;
      return {
        accessToken: "at",
        tokenType: "Bearer",
        expiresAt: Number.NaN,
        refreshToken: "rt-next",
        raw: {},
      };
    };
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), redeem, 1);
    const first = track(rotation!.rotate("rt"));
    await time.advance(10);
    expect(code(first.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect((first.error as Error).cause).toMatchObject({
      code: "ERR_TOKENKEEP_INVALID_RESPONSE",
      message: 'invalid token response: field "expiresAt" is invalid',
    });
    const late = track(rotation!.rotate("rt"));
    await time.advance(10);
    expect(code(late.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(calls).toBe(1);
  });

  it("works in one process without a store option (memory store)", async () => {
    const time = createFakeTime();
    const server = rotatingServer(time);
    const rotation = createRotationCoordinator({ redeem: server.redeem, now: time.now, timers: time.timers });
    const first = track(rotation.rotate("rt-0"));
    await time.advance(20);
    const late = track(rotation.rotate("rt-0"));
    await time.advance(1);
    expect(late.value).toEqual(first.value);
    expect(rotation.stats()).toMatchObject({ redemptions: 1, successorHits: 1 });
    await rotation.dispose();
  });

  it("passes the set being rotated as previous, so a grant creator works as redeem", async () => {
    const seen: RotationRedeemContext[] = [];
    const current: TokenSet = {
      accessToken: "old",
      tokenType: "Bearer",
      expiresAt: 1,
      refreshToken: "rt-keep",
      raw: {},
    };
    const rotation = createRotationCoordinator({
      redeem: async (context) => {
        seen.push(context);
        // No refresh_token in the answer: the one redeemed is kept.
        return { access_token: "new", expires_in: "60" };
      },
    });
    const next = await rotation.rotate(current);
    expect(seen[0]!.previous).toBe(current);
    expect(seen[0]!.refreshToken).toBe("rt-keep");
    expect(seen[0]!.signal).toBeInstanceOf(AbortSignal);
    expect(next).toMatchObject({ accessToken: "new", refreshToken: "rt-keep" });
    await rotation.rotate("bare-token");
    expect(seen[1]!.previous).toMatchObject({ refreshToken: "bare-token", accessToken: "", expiresAt: 0 });
  });

  it("lets one caller give up without cancelling the redemption others wait on", async () => {
    const time = createFakeTime();
    const server = rotatingServer(time, { latencyMs: 40 });
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1);
    const controller = new AbortController();
    const impatient = track(rotation!.rotate("rt-0", { signal: controller.signal }));
    const patient = track(rotation!.rotate("rt-0"));
    const timed = track(rotation!.rotate("rt-0", { timeoutMs: 5 }));
    await time.settle();
    controller.abort();
    await time.advance(100);
    expect(impatient.error).toMatchObject({ code: "ERR_TOKENKEEP_ABORTED" });
    expect(isTimeoutError(timed.error)).toBe(true);
    expect(patient.value?.refreshToken).toBe("rt-1");
    expect(server.state.redemptions).toBe(1);
  });

  it("writes only hashes of refresh tokens into store keys, and no token into a marker", async () => {
    const inner = createMemoryStore();
    const writes: [string, unknown][] = [];
    const recording: Store = {
      get: (key) => inner.get(key),
      set: (key, value, ttl) => {
        writes.push([key, value]);
        return inner.set(key, value, ttl);
      },
      delete: (key) => inner.delete(key),
      acquire: (key, ttl) => {
        writes.push([key, "lease"]);
        return inner.acquire(key, ttl);
      },
    };
    const rotation = createRotationCoordinator({
      shared: shareStore(recording, { keyPrefix: "app:" }),
      redeem: async () => ({ access_token: "at-secret", expires_in: 60, refresh_token: "rt-secret" }),
    });
    await rotation.rotate("rt-0");
    expect(writes.map(([key]) => key.replace(/[0-9a-f]{64}$/, "<hash>"))).toEqual([
      "app:rotation:lease:<hash>",
      "app:rotation:marker:<hash>",
      "app:rotation:successor:<hash>",
      "app:rotation:marker:<hash>",
    ]);
    for (const [key, value] of writes) {
      expectNoSecretIn(key, "rt-0", "a store key");
      if (key.includes(":marker:")) expectNoSecretIn(JSON.stringify(value), /rt-|at-/, "a marker's JSON");
    }
  });

  it("rejects rotations in flight and new ones once disposed; never redeems after dispose", async () => {
    let redeeming!: () => void;
    const called = new Promise<void>((resolve) => {
      redeeming = resolve;
    });
    const rotation = createRotationCoordinator({
      redeem: () => {
        redeeming();
        return new Promise<never>(() => {});
      },
    });
    const pending = rotation.rotate("rt");
    await called;
    await rotation[Symbol.asyncDispose]();
    await expect(pending).rejects.toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
    await expect(rotation.rotate("rt")).rejects.toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });

    let calls = 0;
    const other = createRotationCoordinator({
      redeem: async () => {
        calls++;
        return { access_token: "at", expires_in: 60 };
      },
    });
    // dispose() runs while rotate() is still hashing the refresh token.
    const early = other.rotate("rt");
    await other.dispose();
    await expect(early).rejects.toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
    expect(calls).toBe(0);
  });

  it("calls the store no more once disposed: a probe running at dispose does not re-arm", async () => {
    const time = createFakeTime();
    const { store, counted, failReads } = hangingStore({ leases: true });
    const events: RotationEvent[] = [];
    const rotation = createRotationCoordinator({
      redeem: async () => ({ access_token: "at", expires_in: 60 }),
      shared: shareStore(store, { timeoutMs: 100, probeIntervalMs: 1_000 }),
      now: time.now,
      timers: time.timers,
      onEvent: (event) => events.push(event),
    });
    const down = track(rotation.rotate("rt-0"));
    await time.advance(200);
    expect(code(down.error)).toBe("ERR_TOKENKEEP_STORE_UNAVAILABLE");
    await time.advance(1_000);
    expect(counted.calls).toBe(2); // the marker read that timed out, then the probe's read, still running
    await rotation.dispose();
    failReads();
    await time.settle();
    expect(time.pending()).toBe(0);
    await time.advance(60_000);
    expect(counted.calls).toBe(2);
    expect(events.filter((event) => event.type.startsWith("store-")).map((event) => event.type)).toEqual([
      "store-degraded",
    ]);
  });

  it("validates its options and its argument", async () => {
    const problems = (options: unknown) => {
      try {
        createRotationCoordinator(options as RotationCoordinatorOptions);
      } catch (error) {
        expect(error).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
        return (error as Error).cause;
      }
      return [];
    };
    expect(problems({ shared: {}, redeem: "no", successorTtlMs: -1, redeemTimeoutMs: 3e9 })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^shared: /),
        expect.stringMatching(/^redeem: /),
        expect.stringMatching(/^successorTtlMs: /),
        expect.stringMatching(/^redeemTimeoutMs: /),
      ]),
    );
    const noLeases: Store = { get: async () => undefined, set: async () => {}, delete: async () => {} };
    expect(problems({ shared: shareStore(noLeases), redeem: async () => ({}) })).toEqual([
      "shared: the store must offer leases (acquire) to coordinate redemptions",
    ]);
    expect(problems({ redeem: async () => ({}), successorTtlMs: 60_000, redeemedTtlMs: 60_000 })).toEqual([
      "redeemedTtlMs: must be longer than successorTtlMs",
    ]);
    const rotation = createRotationCoordinator({ redeem: async () => ({ access_token: "a" }) });
    await expect(rotation.rotate("")).rejects.toThrow(TypeError);
    await expect(
      rotation.rotate({ accessToken: "a", tokenType: "Bearer", expiresAt: 0, raw: {} }),
    ).rejects.toThrow(/refresh token/);
  });
});

describe("createRotationCoordinator: remembering redeemed tokens for redeemedTtlMs", () => {
  /** A redeemer that counts presentations per refresh token and always answers. */
  const counting = () => {
    const presented = new Map<string, number>();
    const redeem = async ({ refreshToken }: RotationRedeemContext): Promise<TokenResponse> => {
      presented.set(refreshToken, (presented.get(refreshToken) ?? 0) + 1);
      return { access_token: `at-${refreshToken}`, expires_in: 300, refresh_token: `next-${refreshToken}` };
    };
    return { redeem, presented };
  };

  it("with no store given, still refuses a token redeemed before 1,200 other rotations", async () => {
    const time = createFakeTime(1_700_000_000_000, { crypto: false });
    const { redeem, presented } = counting();
    const rotation = createRotationCoordinator({ redeem, now: time.now, timers: time.timers });
    await rotation.rotate("rt-A");
    for (let index = 0; index < 1_200; index++) await rotation.rotate(`rt-${index}`);
    await time.advance(60_000); // past the successor window, far inside redeemedTtlMs
    await expect(rotation.rotate("rt-A")).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED",
    });
    expect(presented.get("rt-A")).toBe(1);
    await rotation.dispose();
  });

  it("without a verifier, refuses a token whose marker is there but cannot be read (another key, another version)", async () => {
    const time = createFakeTime(1_700_000_000_000, { crypto: false });
    const { redeem, presented } = counting();
    const store = createMemoryStore({ now: time.now });
    const events: RotationEvent[] = [];
    const rotation = createRotationCoordinator({
      redeem,
      shared: shareStore(store),
      now: time.now,
      timers: time.timers,
      onEvent: (event) => events.push(event),
    });
    // What @tokenkeep/redis reads for an entry sealed with another key, and an unknown state.
    const unreadable: JsonValue[] = [
      { unreadable: true },
      { state: "revoked-by-a-newer-version", at: time.now() },
    ];
    for (const [index, record] of unreadable.entries()) {
      const token = `rt-unreadable-${index}`;
      await store.set(`tokenkeep:rotation:marker:${await sha256Hex(token)}`, record, 60_000);
      const error = await rotation.rotate(token).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT", transient: false });
      expect((error as Error).message).toMatch(/cannot be read here .*; it is not presented again$/);
      expect(presented.get(token)).toBeUndefined();
    }
    expect(events.filter((event) => event.type === "in-doubt")).toHaveLength(2);
    expect(rotation.stats().inDoubt).toBe(2);
    await rotation.dispose();
  });

  it("takes a store's null for a missing key as absent (ioredis, Upstash and KV clients answer null)", async () => {
    const time = createFakeTime(1_700_000_000_000, { crypto: false });
    const { redeem, presented } = counting();
    const inner = createMemoryStore({ now: time.now });
    const store: Store = {
      ...inner,
      get: async (key) => (await inner.get(key)) ?? (null as unknown as undefined),
    };
    const rotation = createRotationCoordinator({
      redeem,
      shared: shareStore(store),
      now: time.now,
      timers: time.timers,
    });
    expect((await rotation.rotate("rt-first")).refreshToken).toBeDefined();
    expect(presented.get("rt-first")).toBe(1);
    await rotation.dispose();
  });

  it("a store whose compareAndSet never matches what its get returns: a transient store error after a few reads, not a spin", async () => {
    // A custom store on a client that answers null for a missing key (taken as absent), whose
    // compareAndSet compares what its get returns with `expected` (null is not `undefined`): every
    // claim is refused. Reading again on each refusal never ended on a store that answers without
    // I/O: the lease's timers never ran, and the process hung. (This store gives up at 200 calls.)
    const time = createFakeTime(1_700_000_000_000, { crypto: false });
    const { redeem, presented } = counting();
    const inner = createMemoryStore({ now: time.now });
    let compared = 0;
    const store: Store = {
      ...inner,
      get: async (key) => (await inner.get(key)) ?? (null as unknown as undefined),
      compareAndSet: async (key, expected, value, ttlMs) => {
        if (++compared > 200) throw new Error("compareAndSet called 200 times");
        if (JSON.stringify((await inner.get(key)) ?? null) !== JSON.stringify(expected)) return false;
        await inner.set(key, value, ttlMs);
        return true;
      },
    };
    const rotation = createRotationCoordinator({
      redeem,
      shared: shareStore(store),
      now: time.now,
      timers: time.timers,
    });
    const error = await rotation.rotate("rt-first").catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "ERR_TOKENKEEP_STORE_UNAVAILABLE", transient: true });
    expect(compared).toBeLessThanOrEqual(5);
    expect(presented.get("rt-first")).toBeUndefined();
    expect(rotation.stats().storeDegraded).toBe(false);
    await rotation.dispose();
  });

  it("keeps a day-old marker in a full memory store: expired successors make room first", async () => {
    const time = createFakeTime(1_700_000_000_000, { crypto: false });
    const { redeem, presented } = counting();
    // Room for 13 entries: the 11 markers below, a lease and a successor; not 11 successors too.
    const store = createMemoryStore({ maxEntries: 13, now: time.now });
    const rotation = createRotationCoordinator({
      redeem,
      shared: shareStore(store),
      now: time.now,
      timers: time.timers,
    });
    await rotation.rotate("rt-A");
    for (let index = 0; index < 10; index++) {
      await time.advance(31_000); // the previous successor has expired
      await rotation.rotate(`rt-${index}`);
    }
    await time.advance(31_000);
    await expect(rotation.rotate("rt-A")).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED",
    });
    expect(presented.get("rt-A")).toBe(1);
    expect(store.evicted).toBe(0);
    // Past the bound, the oldest markers go, and the store counts them.
    for (let index = 10; index < 15; index++) await rotation.rotate(`rt-${index}`);
    expect(store.evicted).toBeGreaterThan(0);
    await rotation.dispose();
  });
});

/**
 * The rotating server behind a gateway: `fail(mode)` makes the next redemptions fail the way a proxy
 * does, either before the server sees the request (`gateway`: a 502, the token intact) or after the
 * server rotated it (`reset`: the answer carrying the new pair is lost). `verify` is its
 * introspection: whether a token is still unredeemed there, after `verifyLatencyMs`.
 */
function gatewayServer(time: FakeTime, options: { verifyLatencyMs?: number } = {}) {
  const server = rotatingServer(time);
  const faults: ("gateway" | "reset" | "unavailable" | "refused")[] = [];
  const presented: string[] = [];
  const verifier = { calls: 0, fail: false, latencyMs: options.verifyLatencyMs ?? 5 };
  const redeem = async (context: RotationRedeemContext): Promise<TokenResponse> => {
    presented.push(context.refreshToken);
    const fault = faults.shift();
    if (fault === "gateway") throw new OAuthError({ error: "server_error", status: 502 });
    // A gateway's bare 503 (HTML, no Retry-After), as `readTokenResponse` reports it: not proof.
    if (fault === "unavailable") throw new InvalidResponseError("503", { status: 503, transient: true });
    // The server's own 503: proof it refused before redeeming.
    if (fault === "refused") throw new OAuthError({ error: "temporarily_unavailable", status: 503 });
    const answer = await server.redeem(context);
    if (fault === "reset") throw new NetworkError("connection reset after the answer was sent");
    return answer;
  };
  const verify = async ({ refreshToken }: RotationRedeemContext): Promise<boolean> => {
    verifier.calls++;
    await new Promise<void>((resolve) => time.timers.setTimeout(() => resolve(), verifier.latencyMs));
    if (verifier.fail) throw new NetworkError("introspection unreachable");
    return server.isLive(refreshToken);
  };
  return {
    redeem,
    verify,
    state: server.state,
    verifier,
    presented,
    fail: (...modes: ("gateway" | "reset" | "unavailable" | "refused")[]) => faults.push(...modes),
  };
}

describe("createRotationCoordinator: in doubt, then asking the server (verifyUnredeemed)", () => {
  const settle = 10_000;
  const transient = (error: unknown) => (error as { transient?: boolean } | undefined)?.transient;

  it("before the settle time: a transient in-doubt error, and the server is not asked", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time);
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      verifyUnredeemed: server.verify,
    });
    server.fail("gateway");
    const first = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    expect(code(first.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(first.error).toMatchObject({ transient: true, retryAfterMs: settle });
    await time.advance(settle - 1_000);
    const early = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    expect(code(early.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(transient(early.error)).toBe(true);
    expect((early.error as { retryAfterMs?: number }).retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(server.verifier.calls).toBe(0);
    expect(server.presented).toEqual(["rt-0"]);
  });

  it("the server says unredeemed: one more presentation after the check, its successor for late arrivals", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time);
    const events: string[] = [];
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      verifyUnredeemed: server.verify,
      onEvent: (event) => events.push(event.type),
    });
    server.fail("gateway");
    track(rotation!.rotate("rt-0"));
    await time.advance(settle);
    const calls = Array.from({ length: 20 }, () => track(rotation!.rotate("rt-0")));
    await time.advance(100);
    expect(calls.every((call) => call.value?.refreshToken === "rt-1")).toBe(true);
    const late = track(rotation!.rotate({ ...calls[0]!.value!, refreshToken: "rt-0" }));
    await time.advance(10);
    expect(late.value?.refreshToken).toBe("rt-1");
    expect(server.verifier.calls).toBe(1);
    expect(server.presented).toEqual(["rt-0", "rt-0"]);
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0, revoked: false });
    expect(events).toContain("in-doubt-cleared");
    expect(rotation!.stats()).toMatchObject({ inDoubtCleared: 1, inDoubtLost: 0, redemptions: 2 });
  });

  it("the server says it is dead (rotated, its answer lost): invalid_grant for everyone after, never presented again", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time);
    const events: RotationEvent[] = [];
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      verifyUnredeemed: server.verify,
      onEvent: (event) => events.push(event),
    });
    server.fail("reset");
    const first = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    expect(transient(first.error)).toBe(true);
    await time.advance(settle);
    const after = [track(rotation!.rotate("rt-0")), track(rotation!.rotate("rt-0"))];
    await time.advance(100);
    const again = track(rotation!.rotate("rt-0"));
    await time.advance(settle * 3);
    for (const call of [...after, again]) {
      expect(isOAuthError(call.error)).toBe(true);
      expect(call.error).toMatchObject({ error: "invalid_grant", status: 400, transient: false });
      expect(String((call.error as Error).message)).toMatch(/no longer accepts/);
      expectNoSecretIn(String((call.error as Error).message), /rt-/, "the error's message");
    }
    expect(server.verifier.calls).toBe(1);
    expect(server.presented).toEqual(["rt-0"]);
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0 });
    expect(events.map((event) => event.type)).toContain("in-doubt-lost");
    expect(rotation!.stats()).toMatchObject({ inDoubtLost: 1, inDoubtCleared: 0 });
  });

  it("the check fails or times out: still in doubt (transient), asked again only after another settle period", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time, { verifyLatencyMs: 5 });
    const events: RotationEvent[] = [];
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      verifyUnredeemed: server.verify,
      onEvent: (event) => events.push(event),
    });
    server.fail("gateway");
    track(rotation!.rotate("rt-0"));
    await time.advance(settle);
    server.verifier.fail = true;
    const failed = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    expect(code(failed.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(failed.error).toMatchObject({ transient: true, retryAfterMs: settle });
    expect(events.some((event) => event.type === "in-doubt" && event.error instanceof NetworkError)).toBe(
      true,
    );
    server.verifier.fail = false;
    await time.advance(settle - 100);
    const early = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    expect(transient(early.error)).toBe(true);
    expect(server.verifier.calls).toBe(1);
    await time.advance(100);
    const due = track(rotation!.rotate("rt-0"));
    await time.advance(50);
    expect(due.value?.refreshToken).toBe("rt-1");
    expect(server.verifier.calls).toBe(2);
    expect(server.presented).toEqual(["rt-0", "rt-0"]);
  });

  it("a check slower than half the redemption budget is 'cannot tell': the token is not presented on what time is left", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time, { verifyLatencyMs: 1_900 });
    const events: RotationEvent[] = [];
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      verifyUnredeemed: server.verify,
      redeemTimeoutMs: 2_000,
      leaseTtlMs: 5_000,
      onEvent: (event) => events.push(event),
    });
    server.fail("gateway");
    track(rotation!.rotate("rt-0"));
    await time.advance(settle);
    const slow = track(rotation!.rotate("rt-0"));
    await time.advance(1_100); // half the budget (1 s) has passed: the check is abandoned
    expect(code(slow.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(transient(slow.error)).toBe(true);
    expect(events.some((event) => event.type === "in-doubt" && isTimeoutError(event.error))).toBe(true);
    expect(server.presented).toEqual(["rt-0"]); // not presented on the 0.1 s a 1.9 s check would leave
    // A faster check after another settle period redeems with the rest of the budget.
    server.verifier.latencyMs = 900;
    await time.advance(settle);
    const due = track(rotation!.rotate("rt-0"));
    await time.advance(1_000);
    expect(due.value?.refreshToken).toBe("rt-1");
    expect(server.presented).toEqual(["rt-0", "rt-0"]);
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0, revoked: false });
  });

  it("a bare 503 goes in doubt, with a check as without (a gateway may answer 503 after the upstream rotated)", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time);
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      verifyUnredeemed: server.verify,
    });
    server.fail("unavailable");
    const first = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    expect(code(first.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(transient(first.error)).toBe(true);
    const again = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    expect(code(again.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(server.presented).toEqual(["rt-0"]); // not presented again before the check
    await time.advance(settle);
    const due = track(rotation!.rotate("rt-0"));
    await time.advance(50);
    expect(due.value?.refreshToken).toBe("rt-1");
    expect(server.verifier.calls).toBe(1);
    expect(server.presented).toEqual(["rt-0", "rt-0"]);
  });

  it("the server's own 503 (temporarily_unavailable) is a refusal, with a check as without: redeemed next time, unasked", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time);
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      verifyUnredeemed: server.verify,
    });
    server.fail("refused");
    const first = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    expect(first.error).toMatchObject({ error: "temporarily_unavailable", transient: true });
    const again = track(rotation!.rotate("rt-0"));
    await time.advance(50);
    expect(again.value?.refreshToken).toBe("rt-1");
    expect(server.verifier.calls).toBe(0);
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0, revoked: false });
  });

  it("a check that never answers is bounded by the redemption budget and stays in doubt", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time);
    let asked = 0;
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      verifyUnredeemed: () => {
        asked++;
        return new Promise<boolean>(() => {});
      },
      redeemTimeoutMs: 2_000,
      leaseTtlMs: 5_000,
    });
    server.fail("gateway");
    track(rotation!.rotate("rt-0"));
    await time.advance(settle);
    const hung = track(rotation!.rotate("rt-0"));
    await time.advance(2_100);
    expect(code(hung.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(transient(hung.error)).toBe(true);
    expect(asked).toBe(1);
    expect(server.presented).toEqual(["rt-0"]);
  });

  it("two processes on one store after the settle time: one check, one redemption, both get the successor", async () => {
    const time = createFakeTime();
    const { store } = slowStore(time);
    const server = gatewayServer(time, { verifyLatencyMs: 200 });
    const instances = fleet(time, store, server.redeem, 2, { verifyUnredeemed: server.verify });
    server.fail("gateway");
    const first = track(instances[0]!.rotate("rt-0"));
    await time.advance(10);
    expect(transient(first.error)).toBe(true);
    await time.advance(settle);
    const calls = Array.from({ length: 40 }, (_, index) => track(instances[index % 2]!.rotate("rt-0")));
    await time.advance(3_000);
    expect(calls.every((call) => call.value?.refreshToken === "rt-1")).toBe(true);
    expect(server.verifier.calls).toBe(1);
    expect(server.presented).toEqual(["rt-0", "rt-0"]);
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0, revoked: false });
    const stats = instances.map((instance) => instance.stats());
    expect(stats.reduce((sum, s) => sum + s.inDoubtCleared, 0)).toBe(1);
  });

  it("a holder that died mid-redemption: in doubt (transient), then checked after the settle time", async () => {
    const time = createFakeTime();
    const { store } = slowStore(time);
    const server = gatewayServer(time);
    const [survivor] = fleet(time, store, server.redeem, 1, { verifyUnredeemed: server.verify });
    const hash = await sha256Hex("rt-0");
    await store.set(
      `tokenkeep:rotation:marker:${hash}`,
      { state: "redeeming", at: time.now(), by: "x" },
      60_000,
    );
    const late = track(survivor!.rotate("rt-0"));
    await time.advance(100);
    expect(code(late.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(transient(late.error)).toBe(true);
    expect(server.verifier.calls).toBe(0);
    await time.advance(settle);
    const due = track(survivor!.rotate("rt-0"));
    await time.advance(100);
    expect(due.value?.refreshToken).toBe("rt-1");
    expect(server.verifier.calls).toBe(1);
    expect(server.presented).toEqual(["rt-0"]);
  });

  it.each([
    ["sealed with another key (what @tokenkeep/redis reads)", { unreadable: true }],
    ["an unknown state (another version)", { state: "revoked-by-a-newer-version", at: 1 }],
  ] as const)(
    "a marker this instance cannot read (%s): in doubt from when it is found, then checked like one",
    async (_, record) => {
      const time = createFakeTime();
      const { store } = slowStore(time);
      const server = gatewayServer(time);
      const events: RotationEvent[] = [];
      const [rotation] = fleet(time, store, server.redeem, 1, {
        verifyUnredeemed: server.verify,
        onEvent: (event) => events.push(event),
      });
      // rt-0 was never presented (a holder that wrote its marker and died, say); rt-dead is dead.
      const markerKey = async (token: string) => `tokenkeep:rotation:marker:${await sha256Hex(token)}`;
      await store.set(await markerKey("rt-0"), record as JsonValue, 60_000);
      const first = track(rotation!.rotate("rt-0"));
      await time.advance(100);
      expect(code(first.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
      expect(first.error).toMatchObject({ transient: true, retryAfterMs: settle });
      expect((first.error as Error).message).toMatch(/cannot be read here .*only once the server confirms/);
      expect(server.verifier.calls).toBe(0);
      // Recorded as in doubt from now, readable by every instance with this key or version.
      expect(await store.get(await markerKey("rt-0"))).toEqual({
        state: "in-doubt",
        at: time.now() - 100,
        unreadable: true,
      });
      await time.advance(settle - 1_000);
      const early = track(rotation!.rotate("rt-0"));
      await time.advance(10);
      expect(transient(early.error)).toBe(true);
      expect(server.verifier.calls).toBe(0);
      await time.advance(1_000);
      const due = track(rotation!.rotate("rt-0"));
      await time.advance(100);
      expect(due.value?.refreshToken).toBe("rt-1");
      expect(server.verifier.calls).toBe(1);
      expect(server.presented).toEqual(["rt-0"]);

      // A dead token behind an unreadable marker: never presented, and refused for good, but not as
      // invalid_grant: the marker it replaced may have been another instance's `redeemed` (a key
      // change), and ending the session would sign out a browser that holds the newer pair.
      await store.set(await markerKey("rt-dead"), record as JsonValue, 60_000);
      track(rotation!.rotate("rt-dead"));
      await time.advance(settle + 100);
      const dead = track(rotation!.rotate("rt-dead"));
      await time.advance(100);
      const again = track(rotation!.rotate("rt-dead"));
      await time.advance(settle + 100);
      for (const call of [dead, again]) {
        expect(code(call.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
        expect(call.error).toMatchObject({ transient: false, retryAfterMs: undefined });
        expect((call.error as Error).message).toMatch(/cannot be read here .*it is not presented again$/);
      }
      expect(server.verifier.calls).toBe(2); // not asked again
      expect(server.presented).toEqual(["rt-0"]);
      expect(rotation!.stats()).toMatchObject({ inDoubtCleared: 1, inDoubtLost: 1 });
      expect(events.filter((event) => event.type === "in-doubt").length).toBeGreaterThanOrEqual(2);
    },
  );

  it("without a verifier nothing changes: in doubt for good, not transient", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time);
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1);
    server.fail("gateway");
    const first = track(rotation!.rotate("rt-0"));
    await time.advance(settle * 2);
    const later = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    for (const call of [first, later]) {
      expect(code(call.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
      expect(call.error).toMatchObject({ transient: false, retryAfterMs: undefined });
    }
    expect(server.presented).toEqual(["rt-0"]);
  });

  it.each([
    [
      "a 401 invalid_client from introspection",
      () => new OAuthError({ error: "invalid_client", status: 401 }),
    ],
    ["a TypeError from a bad URL", () => new TypeError("Invalid URL")],
    ["a programming error", () => new RangeError("bug in the verifier")],
  ])(
    "a check that fails permanently (%s): reported once, then in doubt for good in every instance, never asked again",
    async (_, makeError) => {
      const time = createFakeTime();
      const store = createMemoryStore({ now: time.now });
      const server = gatewayServer(time);
      const events: RotationEvent[] = [];
      const failure = makeError();
      let asked = 0;
      const instances = fleet(time, store, server.redeem, 2, {
        verifyUnredeemed: async () => {
          asked++;
          throw failure;
        },
        onEvent: (event) => events.push(event),
      });
      server.fail("gateway");
      const first = track(instances[0]!.rotate("rt-0"));
      await time.advance(10);
      expect(transient(first.error)).toBe(true);
      await time.advance(settle);
      const checked = [track(instances[0]!.rotate("rt-0")), track(instances[1]!.rotate("rt-0"))];
      await time.advance(100);
      expect(asked).toBe(1);
      for (const call of checked) {
        expect(code(call.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
        expect(call.error).toMatchObject({ transient: false, retryAfterMs: undefined });
      }
      // The caller whose flight asked gets the verifier's error as cause; the event reports it.
      expect(checked.some((call) => (call.error as Error).cause === failure)).toBe(true);
      expect(events.filter((event) => event.type === "in-doubt" && event.error === failure)).toHaveLength(1);
      // The marker records it (and stays readable by an older instance: state, at and checkedAt as before).
      const marker = await store.get(`tokenkeep:rotation:marker:${await sha256Hex("rt-0")}`);
      expect(marker).toEqual({
        state: "in-doubt",
        at: expect.any(Number),
        checkedAt: expect.any(Number),
        verifyFailedAt: expect.any(Number),
      });
      // Later, in either instance: as without a verifier (refused for good), and the server is not asked.
      for (let round = 0; round < 3; round++) {
        await time.advance(settle * 2);
        const later = instances.map((instance) => track(instance.rotate("rt-0")));
        await time.advance(100);
        for (const call of later) {
          expect(code(call.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
          expect(call.error).toMatchObject({ transient: false, retryAfterMs: undefined });
          // No cause for later callers, but the message says when the check failed for good.
          expect((call.error as Error).message).toContain(
            `verifyUnredeemed failed for good at ${new Date((marker as { verifyFailedAt: number }).verifyFailedAt).toISOString()}`,
          );
        }
      }
      expect(asked).toBe(1);
      expect(server.presented).toEqual(["rt-0"]);
    },
  );

  it("a check that fails transiently does not extend the marker: the token is in doubt until redeemedTtlMs after it was abandoned", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const server = gatewayServer(time);
    server.verifier.fail = true; // a NetworkError every time: asked again each settle period
    const redeemedTtlMs = 60_000;
    const instances = fleet(time, store, server.redeem, 2, {
      verifyUnredeemed: server.verify,
      redeemedTtlMs,
    });
    server.fail("gateway");
    const first = track(instances[0]!.rotate("rt-0"));
    await time.advance(10);
    expect(transient(first.error)).toBe(true);
    const abandonedAt = time.now();
    for (let round = 1; round <= 5; round++) {
      await time.advance(settle);
      const call = track(instances[round % 2]!.rotate("rt-0"));
      await time.advance(10);
      expect(code(call.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
      expect(transient(call.error)).toBe(true);
      expect(server.verifier.calls).toBe(round);
    }
    // Just before the bound: still in doubt, and not due (checked < settle ago).
    await time.advance(abandonedAt + redeemedTtlMs - 500 - time.now());
    const before = track(instances[0]!.rotate("rt-0"));
    await time.advance(10);
    expect(code(before.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    expect(server.presented).toEqual(["rt-0"]);
    // Past it: no marker, handled as a token never seen (its one presentation since the gateway's 502).
    await time.advance(1_000);
    const after = track(instances[1]!.rotate("rt-0"));
    await time.advance(50);
    expect(after.value?.refreshToken).toBe("rt-1");
    expect(server.verifier.calls).toBe(5);
    expect(server.presented).toEqual(["rt-0", "rt-0"]);
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0, revoked: false });
  });

  it("a permanently failed check keeps the marker's expiry too: past redeemedTtlMs the token is handled as never seen", async () => {
    const time = createFakeTime();
    const server = gatewayServer(time);
    const redeemedTtlMs = 60_000;
    let asked = 0;
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      verifyUnredeemed: async () => {
        asked++;
        throw new OAuthError({ error: "invalid_client", status: 401 });
      },
      redeemedTtlMs,
    });
    server.fail("gateway");
    track(rotation!.rotate("rt-0"));
    await time.advance(10);
    const abandonedAt = time.now();
    await time.advance(redeemedTtlMs - 1_000);
    const failed = track(rotation!.rotate("rt-0"));
    await time.advance(10);
    expect(failed.error).toMatchObject({ code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT", transient: false });
    expect(asked).toBe(1);
    await time.advance(abandonedAt + redeemedTtlMs + 1 - time.now());
    const after = track(rotation!.rotate("rt-0"));
    await time.advance(50);
    expect(after.value?.refreshToken).toBe("rt-1");
    expect(asked).toBe(1);
    expect(server.presented).toEqual(["rt-0", "rt-0"]);
  });

  // The first answer of the check; none of these is known to repeat.
  const fails = (error: unknown) => async (): Promise<boolean> => {
    throw error;
  };
  it.each([
    ["resolving a non-boolean", async () => undefined as never],
    ["throwing a plain Error (an HTTP client's own network error)", fails(new Error("socket hang up"))],
    [
      "throwing Node's TypeError for an answer that broke off mid-body",
      fails(
        new TypeError("terminated", {
          cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
        }),
      ),
    ],
    ["throwing an error with a 503 status", fails(Object.assign(new Error("unavailable"), { status: 503 }))],
    ["throwing a string", fails("nope")],
  ] as const)(
    "a check %s is 'cannot tell': transient, asked again after the settle time",
    async (_, firstAnswer) => {
      const time = createFakeTime();
      const server = gatewayServer(time);
      let asked = 0;
      const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
        verifyUnredeemed: async (context) => (++asked === 1 ? firstAnswer() : server.verify(context)),
      });
      server.fail("gateway");
      track(rotation!.rotate("rt-0"));
      await time.advance(settle + 10);
      const unsure = track(rotation!.rotate("rt-0"));
      await time.advance(10);
      expect(unsure.error).toMatchObject({ code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT", transient: true });
      await time.advance(settle);
      const due = track(rotation!.rotate("rt-0"));
      await time.advance(50);
      expect(due.value?.refreshToken).toBe("rt-1");
      expect(asked).toBe(2);
    },
  );

  it("validates verifyUnredeemed and inDoubtSettleMs", () => {
    expect(() =>
      createRotationCoordinator({
        redeem: async () => ({ access_token: "a" }),
        verifyUnredeemed: "yes" as never,
        inDoubtSettleMs: -1,
      }),
    ).toThrow(
      expect.objectContaining({
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        cause: expect.arrayContaining([
          expect.stringMatching(/^verifyUnredeemed: /),
          expect.stringMatching(/^inDoubtSettleMs: /),
        ]),
      }),
    );
  });
});

describe("createRotationCoordinator: a server's Retry-After after a refusal", () => {
  /** Refuses the first `refusals` presentations before redeeming (429, `Retry-After`), then redeems. */
  function throttlingServer(retryAfterMs: number, refusals = 1) {
    const state = { presented: 0 };
    const redeem = async (): Promise<TokenResponse> => {
      state.presented++;
      if (state.presented <= refusals) {
        throw new OAuthError({ error: "slow_down", status: 429, retryAfterMs });
      }
      return { access_token: "at", expires_in: 60, refresh_token: "rt-next" };
    };
    return { redeem, state };
  }

  it("no instance sharing the store presents the token again before the Retry-After has passed", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const server = throttlingServer(60_000);
    const events: string[] = [];
    const [a, b] = fleet(time, store, server.redeem, 2, { onEvent: (event) => events.push(event.type) });
    const first = track(a!.rotate("rt"));
    await time.advance(10);
    expect(first.error).toMatchObject({ status: 429, transient: true, retryAfterMs: 60_000 });
    // Another instance, at once and near the end of the window: refused, transient, told how long.
    const other = track(b!.rotate("rt"));
    await time.advance(10);
    expect(code(other.error)).toBe("ERR_TOKENKEEP_THROTTLED");
    expect(other.error).toMatchObject({ transient: true, retryAfterMs: 59_990 });
    await time.advance(59_970);
    const again = track(a!.rotate("rt"));
    await time.advance(5);
    expect(code(again.error)).toBe("ERR_TOKENKEEP_THROTTLED");
    expect(server.state.presented).toBe(1);
    expect(events.filter((type) => type === "throttled")).toHaveLength(2);
    expect(a!.stats().throttled + b!.stats().throttled).toBe(2);
    // Past the window: presented again, once, and every instance gets its successor.
    await time.advance(10);
    const later = [track(b!.rotate("rt")), track(a!.rotate("rt"))];
    await time.advance(100);
    expect(later.map((call) => call.value?.refreshToken)).toEqual(["rt-next", "rt-next"]);
    expect(server.state.presented).toBe(2);
  });

  it("an instance whose clock is behind the writer's is told to wait at most the window, not the window plus the skew", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const server = throttlingServer(60_000);
    const [a] = fleet(time, store, server.redeem, 1);
    // An hour behind: its `now` puts the window's end an hour further away than it is.
    const [behind] = fleet(time, store, server.redeem, 1, { now: () => time.now() - 3_600_000 });
    track(a!.rotate("rt"));
    await time.advance(10);
    const held = track(behind!.rotate("rt"));
    await time.advance(10);
    expect(held.error).toMatchObject({ code: "ERR_TOKENKEEP_THROTTLED", transient: true });
    expect((held.error as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(60_000);
    // The window ends on the store's clock, whatever this instance's says.
    await time.advance(60_000);
    const after = track(behind!.rotate("rt"));
    await time.advance(10);
    expect(after.value?.refreshToken).toBe("rt-next");
    expect(server.state.presented).toBe(2);
  });

  it("bounds the window by maxThrottleMs: a Retry-After a year away holds the token 5 minutes", async () => {
    const time = createFakeTime();
    const server = throttlingServer(365 * 86_400_000);
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1);
    track(rotation!.rotate("rt"));
    await time.advance(10);
    const held = track(rotation!.rotate("rt"));
    await time.advance(10);
    expect(held.error).toMatchObject({ code: "ERR_TOKENKEEP_THROTTLED", retryAfterMs: 300_000 - 10 });
    await time.advance(300_000);
    const after = track(rotation!.rotate("rt"));
    await time.advance(10);
    expect(after.value?.refreshToken).toBe("rt-next");
    expect(server.state.presented).toBe(2);
  });

  it("maxThrottleMs: 0 opens no window (the claim is taken back, as without Retry-After)", async () => {
    const time = createFakeTime();
    const server = throttlingServer(60_000);
    const [rotation] = fleet(time, createMemoryStore({ now: time.now }), server.redeem, 1, {
      maxThrottleMs: 0,
    });
    track(rotation!.rotate("rt"));
    await time.advance(10);
    const again = track(rotation!.rotate("rt"));
    await time.advance(10);
    expect(again.value?.refreshToken).toBe("rt-next");
    expect(() =>
      createRotationCoordinator({ redeem: server.redeem, maxThrottleMs: -1 } as RotationCoordinatorOptions),
    ).toThrow(expect.objectContaining({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" }));
  });

  it("records the window so an older version reads a transient refusal, never invalid_grant, and it expires with the window", async () => {
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const [rotation] = fleet(time, store, throttlingServer(30_000).redeem, 1);
    track(rotation!.rotate("rt"));
    await time.advance(10);
    const key = `tokenkeep:rotation:marker:${await sha256Hex("rt")}`;
    const marker = (await store.get(key)) as { state: string; failure: { error: string; status: number } };
    expect(marker).toMatchObject({ state: "failed", waitUntil: time.now() - 10 + 30_000 });
    // What a version without `waitUntil` does with a `failed` marker: throws its recorded failure.
    const asOlderVersionSees = new OAuthError({ ...marker.failure });
    expect(asOlderVersionSees).toMatchObject({ error: "temporarily_unavailable", transient: true });
    await time.advance(30_000);
    expect(await store.get(key)).toBeUndefined();
  });
});

describe("createRotationCoordinator: a late writer never replaces a newer record", () => {
  it("a check that got no answer while a redemption it outlasted published: the successor, not in doubt again", async () => {
    // A's redemption outlives its lease (the server is slow and ignores the abort): in doubt. After
    // the settle time B asks the server, which cannot tell; meanwhile A's answer arrives and A
    // publishes the successor and `redeemed`. B's "still in doubt" must not replace that record:
    // written over it, the successor's window would close on an in-doubt marker, the next check
    // would find the token dead (A rotated it), and a stale tab's invalid_grant would end the
    // session that holds A's pair.
    const time = createFakeTime();
    const store = createMemoryStore({ now: time.now });
    const server = rotatingServer(time, { latencyMs: 3_000, ignoreAbort: true });
    let checks = 0;
    // The first check cannot tell; later ones answer truthfully.
    const verifyUnredeemed = async ({ refreshToken }: RotationRedeemContext): Promise<boolean> => {
      checks++;
      await new Promise<void>((resolve) => time.timers.setTimeout(() => resolve(), 800));
      if (checks === 1) throw new NetworkError("introspection unreachable");
      return server.isLive(refreshToken);
    };
    const options = { verifyUnredeemed, inDoubtSettleMs: 1_500, leaseTtlMs: 5_000 };
    const [a] = fleet(time, store, server.redeem, 1, { ...options, redeemTimeoutMs: 1_000 });
    const [b] = fleet(time, store, server.redeem, 1, { ...options, redeemTimeoutMs: 4_000 });
    const first = track(a!.rotate("rt-0"));
    await time.advance(1_100);
    expect(code(first.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    await time.advance(1_500); // past the settle time: B checks from t=2,600 to 3,400
    const checked = track(b!.rotate("rt-0"));
    await time.advance(1_000); // A's answer at t=3,000 is published in between
    expect(checks).toBe(1);
    expect(checked.value?.refreshToken).toBe("rt-1");
    // Past the successor window: a stale tab is late (SUPERSEDED), never told its session is over.
    await time.advance(40_000);
    const stale = track(b!.rotate("rt-0"));
    await time.advance(5_000);
    expect(code(stale.error)).toBe("ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED");
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0, revoked: false });
  });

  it("a holder whose in-doubt write lands after its lease expired does not replace the redemption made since", async () => {
    // A's redemption fails with a 502 (in doubt) and its marker write is slow (a store call the
    // client gave up on may still be applied): A's lease (not renewable here) expires first. B finds
    // A's `redeeming` marker under a free lease and records in doubt; after the settle time C asks
    // the server (unredeemed), redeems and publishes. Then A's write lands. Over C's `redeemed`, it
    // would turn a stale tab's request after the successor window into a check, which finds the
    // token dead (C rotated it): invalid_grant, the end of the session that holds C's pair.
    const time = createFakeTime();
    const inner = createMemoryStore({ now: time.now });
    const server = gatewayServer(time);
    const delay = { ms: 0 };
    const later = <T>(work: () => Promise<T>) =>
      delay.ms === 0
        ? work()
        : new Promise<T>((resolve) => time.timers.setTimeout(() => resolve(work()), delay.ms));
    const slowForA: Store = {
      get: (key) => inner.get(key),
      set: (key, value, ttl) => later(() => inner.set(key, value, ttl)),
      delete: (key) => inner.delete(key),
      compareAndDelete: (key, value) => later(() => inner.compareAndDelete(key, value)),
      compareAndSet: (key, expected, value, ttl) =>
        later(() => inner.compareAndSet(key, expected, value, ttl)),
      // No renewal: the lease ends leaseTtlMs after it was taken, whatever A is doing.
      acquire: async (key, ttl) => {
        const release = await inner.acquire(key, ttl);
        return release && (() => release());
      },
    };
    const options = {
      verifyUnredeemed: server.verify,
      inDoubtSettleMs: 1_000,
      leaseTtlMs: 500,
      timeoutMs: 10_000,
    };
    const [a] = fleet(
      time,
      slowForA,
      async (context) => {
        delay.ms = 5_000; // from now on A's writes take 5 s
        return server.redeem(context);
      },
      1,
      options,
    );
    const [b, c] = fleet(time, inner, server.redeem, 2, options);
    server.fail("gateway");
    const first = track(a!.rotate("rt-0"));
    await time.advance(600);
    const second = track(b!.rotate("rt-0"));
    await time.advance(50);
    expect(code(second.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    await time.advance(1_400);
    const checked = track(c!.rotate("rt-0"));
    await time.advance(100);
    expect(checked.value?.refreshToken).toBe("rt-1");
    await time.advance(5_000); // A's write lands
    expect(code(first.error)).toBe("ERR_TOKENKEEP_ROTATION_IN_DOUBT");
    await time.advance(40_000);
    const stale = track(b!.rotate("rt-0"));
    await time.advance(5_000);
    expect(code(stale.error)).toBe("ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED");
    expect(server.presented).toEqual(["rt-0", "rt-0"]);
    expect(server.state).toMatchObject({ redemptions: 1, reuses: 0, revoked: false });
  });
});
