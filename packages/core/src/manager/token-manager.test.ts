import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { failingFleet } from "../../test/support/failing-fleet.js";
import { createFakeTime } from "../../test/support/fake-time.js";
import { InvalidResponseError, NetworkError, OAuthError, TokenkeepError } from "../errors/errors.js";
import { createMemoryStore } from "../memory-store/memory-store.js";
import { shareStore } from "../shared/share-store.js";
import type { TokenCreatorContext, TokenIdentity } from "../token/token-creator.js";
import type { TokenEvent } from "./events.js";
import { DEFAULT_IDENTITY_KEY, hashIdentityKey } from "./identity.js";
import { createTokenManager } from "./token-manager.js";
import type { TokenManagerOptions } from "./token-manager-options.js";

const HOUR_S = 3600;

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** A manager on fake time whose creator hands out at-1, at-2, ... and records every call. */
function setup(
  overrides: Partial<TokenManagerOptions> = {},
  answer: (n: number, context: TokenCreatorContext) => Promise<object> | object = (n) => ({
    access_token: `at-${n}`,
    token_type: "bearer",
    expires_in: HOUR_S,
  }),
) {
  const time = createFakeTime();
  const calls: TokenCreatorContext[] = [];
  const events: TokenEvent[] = [];
  const manager = createTokenManager({
    creator: async (context) => {
      calls.push(context);
      return (await answer(calls.length, context)) as never;
    },
    now: time.now,
    timers: time.timers,
    random: () => 0.5,
    onEvent: (event) => events.push(event),
    ...overrides,
  });
  return { time, calls, events, manager };
}

describe("createTokenManager: cache", () => {
  it("fetches once, then serves the cached set", async () => {
    const { manager, calls } = setup();
    const first = await manager.getToken();
    const second = await manager.getToken();
    expect(first.accessToken).toBe("at-1");
    expect(first.tokenType).toBe("Bearer");
    expect(second).toBe(first);
    expect(calls).toHaveLength(1);
    expect(manager.stats()).toMatchObject({ hits: 1, misses: 1, creatorCalls: 1, entries: 1 });
    expect(await manager.getAuthorizationHeader()).toBe("Bearer at-1");
  });

  it("anchors expiry at the moment the request was sent, not when the answer arrived", async () => {
    const { manager, time } = setup({}, async () => {
      await new Promise<void>((resolve) => time.timers.setTimeout(resolve, 5_000));
      return { access_token: "slow", expires_in: 60 };
    });
    const start = time.now();
    const pending = manager.getToken();
    await time.advance(5_000);
    expect((await pending).expiresAt).toBe(start + 60_000);
  });

  it("keys the cache on the whole identity, order-insensitively", async () => {
    const { manager, calls } = setup();
    const a = await manager.getToken({ identity: { client: "a", scope: "read write" } });
    const b = await manager.getToken({ identity: { scope: "write  read", client: "a" } });
    const c = await manager.getToken({ identity: { client: "a", scope: "read" } });
    const d = await manager.getToken({ identity: { client: "b", scope: "read write" } });
    expect(b).toBe(a);
    expect(new Set([a.accessToken, c.accessToken, d.accessToken]).size).toBe(3);
    expect(calls.map((call) => call.identity)).toEqual([
      { client: "a", scope: "read write" },
      { client: "a", scope: "read" },
      { client: "b", scope: "read write" },
    ]);
  });

  it("peek returns the usable cached set synchronously, never fetching", async () => {
    const { manager, calls, time } = setup();
    expect(manager.peek()).toBeUndefined();
    const set = await manager.getToken();
    expect(manager.peek()).toBe(set);
    await time.advance(HOUR_S * 1000);
    expect(manager.peek()).toBeUndefined();
    expect(calls).toHaveLength(1);
  });

  it("accepts a plain creator typed with its own interface (the @authup/core-http-kit shape)", async () => {
    interface TokenGrantResponse {
      access_token: string;
      token_type: string;
      expires_in: number;
      refresh_token?: string;
      mac_key?: string;
    }
    const creator = (): Promise<TokenGrantResponse> =>
      Promise.resolve({ access_token: "plain", token_type: "bearer", expires_in: 60, mac_key: "k" });
    const manager = createTokenManager({ creator });
    const set = await manager.getToken();
    expect(set).toMatchObject({ accessToken: "plain", tokenType: "Bearer", raw: { mac_key: "k" } });
  });

  it("uses a TokenSet returned by the creator as is", async () => {
    const time = createFakeTime();
    const set = { accessToken: "ready", tokenType: "Bearer", expiresAt: time.now() + 60_000, raw: {} };
    const manager = createTokenManager({ creator: async () => set, now: time.now, timers: time.timers });
    expect(await manager.getToken()).toBe(set);
  });
});

describe("createTokenManager: skew", () => {
  it("stops handing out a token skewMs before it expires", async () => {
    const { manager, calls, time } = setup({ refreshAheadRatio: 1 });
    await manager.getToken();
    await time.advance(HOUR_S * 1000 - 30_001);
    expect((await manager.getToken()).accessToken).toBe("at-1");
    // refreshAheadRatio 1: no background refresh, whatever the jitter.
    await time.settle();
    expect(calls).toHaveLength(1);
    await time.advance(1);
    expect((await manager.getToken()).accessToken).toBe("at-2");
    expect(calls).toHaveLength(2);
  });

  it("caps the skew at a fraction of a short token's lifetime", async () => {
    // 20 s token, skew 30 s capped at 20% = 4 s: usable for 16 s, not refetched on every call.
    const { manager, calls, time } = setup({ refreshAheadRatio: 1 }, (n) => ({
      access_token: `at-${n}`,
      expires_in: 20,
    }));
    await manager.getToken();
    await time.advance(15_999);
    await manager.getToken();
    expect(calls).toHaveLength(1);
    await time.advance(1);
    await manager.getToken();
    expect(calls).toHaveLength(2);
  });
});

describe("createTokenManager: refresh ahead", () => {
  it("serves the current token and starts one background refresh once ~75% of the lifetime passed", async () => {
    // random 0.5, jitter 0.1: refresh point at 0.75 * (1 - 0.05) = 71.25% of one hour.
    const { manager, calls, time, events } = setup();
    await manager.getToken();
    await time.advance(Math.ceil(HOUR_S * 1000 * 0.7125) - 1);
    await manager.getToken();
    expect(calls).toHaveLength(1);
    await time.advance(1);
    const during = await Promise.all([manager.getToken(), manager.getToken(), manager.getToken()]);
    expect(during.map((set) => set.accessToken)).toEqual(["at-1", "at-1", "at-1"]);
    await time.settle();
    expect(calls).toHaveLength(2);
    expect((await manager.getToken()).accessToken).toBe("at-2");
    expect(calls[1]?.previous?.accessToken).toBe("at-1");
    expect(events.filter((event) => event.type === "refresh-start").map((event) => event.background)).toEqual(
      [false, true],
    );
    expect(manager.stats()).toMatchObject({ backgroundRefreshes: 1, refreshSuccesses: 2 });
  });

  it("honours a server's refresh_in", async () => {
    const { manager, calls, time } = setup({}, (n) => ({
      access_token: `at-${n}`,
      expires_in: HOUR_S,
      refresh_in: 60,
    }));
    await manager.getToken();
    await time.advance(59_999);
    await manager.getToken();
    expect(calls).toHaveLength(1);
    await time.advance(1);
    expect((await manager.getToken()).accessToken).toBe("at-1");
    await time.settle();
    expect(calls).toHaveLength(2);
  });

  it("jitters the refresh point with the injected randomness", async () => {
    const early = setup({ random: () => 0.999 });
    await early.manager.getToken();
    await early.time.advance(HOUR_S * 1000 * 0.75 * (1 - 0.0999) + 1);
    await early.manager.getToken();
    await early.time.settle();
    expect(early.calls).toHaveLength(2);
    const late = setup({ random: () => 0 });
    await late.manager.getToken();
    await late.time.advance(HOUR_S * 1000 * 0.75 * (1 - 0.0999) + 1);
    await late.manager.getToken();
    await late.time.settle();
    expect(late.calls).toHaveLength(1);
  });

  it("keeps serving the valid token when the background refresh fails, and counts it", async () => {
    const { manager, calls, time, events } = setup({ retry: { retries: 0 } }, (n) => {
      if (n > 1) throw new NetworkError("connection refused");
      return { access_token: "at-1", expires_in: HOUR_S };
    });
    await manager.getToken();
    await time.advance(HOUR_S * 1000 * 0.8);
    expect((await manager.getToken()).accessToken).toBe("at-1");
    await time.settle();
    expect(calls).toHaveLength(2);
    expect((await manager.getToken()).accessToken).toBe("at-1");
    expect(manager.stats()).toMatchObject({ refreshFailures: 1, staleServed: 1 });
    expect(events.some((event) => event.type === "stale-served")).toBe(true);
    // The next background attempt waits for a backoff instead of firing on every call.
    await manager.getToken();
    await time.settle();
    expect(calls).toHaveLength(2);
  });
});

describe("createTokenManager: single-flight", () => {
  it("makes one creator call for many concurrent callers", async () => {
    const { manager, calls, time } = setup({}, async (n) => {
      await new Promise<void>((resolve) => time.timers.setTimeout(resolve, 100));
      return { access_token: `at-${n}`, expires_in: HOUR_S };
    });
    const all = Array.from({ length: 1000 }, () => manager.getToken());
    await time.advance(100);
    const sets = await Promise.all(all);
    expect(new Set(sets.map((set) => set.accessToken))).toEqual(new Set(["at-1"]));
    expect(calls).toHaveLength(1);
    expect(manager.stats()).toMatchObject({ misses: 1, coalesced: 999 });
  });

  it("lets one caller abandon its own wait without cancelling the shared fetch", async () => {
    const { manager, calls, time } = setup({}, async (n, context) => {
      await new Promise<void>((resolve) => time.timers.setTimeout(resolve, 1_000));
      expect(context.signal.aborted).toBe(false);
      return { access_token: `at-${n}`, expires_in: HOUR_S };
    });
    const controller = new AbortController();
    const impatient = rejected(manager.getToken({ signal: controller.signal }));
    const hasty = rejected(manager.getToken({ timeoutMs: 200 }));
    const patient = manager.getToken();
    controller.abort();
    expect(await impatient).toMatchObject({ code: "ERR_TOKENKEEP_ABORTED" });
    await time.advance(200);
    expect(await hasty).toMatchObject({ code: "ERR_TOKENKEEP_TIMEOUT" });
    await time.advance(800);
    expect((await patient).accessToken).toBe("at-1");
    expect(calls).toHaveLength(1);
  });

  it("starts no fetch for a caller whose signal has already aborted", async () => {
    const { manager, calls } = setup();
    const controller = new AbortController();
    const reason = new Error("the caller gave up");
    controller.abort(reason);
    const error = await rejected(manager.getToken({ signal: controller.signal }));
    expect(error).toMatchObject({ name: "AbortError", code: "ERR_TOKENKEEP_ABORTED", cause: reason });
    expect(calls).toHaveLength(0);
    expect(manager.stats()).toMatchObject({ refreshes: 0, entries: 0, inFlight: 0 });
  });

  it("hands a caller whose signal has already aborted a usable token, as any call, refresh-ahead included", async () => {
    const { manager, calls, time } = setup();
    await manager.getToken();
    const signal = AbortSignal.abort(new Error("the caller gave up"));
    expect((await manager.getToken({ signal })).accessToken).toBe("at-1");
    await time.advance(HOUR_S * 1000 * 0.8); // inside the refresh-ahead window
    expect((await manager.getToken({ signal })).accessToken).toBe("at-1");
    await time.advance(0);
    // The background refresh any call starts there: no caller waits for it.
    expect(calls).toHaveLength(2);
    expect(manager.peek()?.accessToken).toBe("at-2");
  });

  it("passes an AbortSignal.timeout()'s reason on as the AbortError's cause", async () => {
    const { manager, calls } = setup();
    // What AbortSignal.timeout() aborts with, without waiting for a real timer.
    const controller = new AbortController();
    controller.abort(new DOMException("signal timed out", "TimeoutError"));
    const error = await rejected(manager.getToken({ signal: controller.signal }));
    expect(error).toMatchObject({ code: "ERR_TOKENKEEP_ABORTED", transient: false });
    expect((error as Error).cause).toMatchObject({ name: "TimeoutError" });
    expect(calls).toHaveLength(0);
  });
});

describe("createTokenManager: failures", () => {
  it("surfaces a permanent OAuth error at once, without retrying", async () => {
    const { manager, calls } = setup({}, () => {
      throw new OAuthError({ error: "invalid_client", status: 401 });
    });
    expect(await rejected(manager.getToken())).toMatchObject({ error: "invalid_client" });
    expect(calls).toHaveLength(1);
    expect(manager.stats().retries).toBe(0);
  });

  it.each<[string, unknown, string]>([
    ["NaN", Number.NaN, 'field "expiresAt" is invalid'],
    ["Infinity", Number.POSITIVE_INFINITY, 'field "expiresAt" is invalid'],
    ["-Infinity", Number.NEGATIVE_INFINITY, 'field "expiresAt" is invalid'],
    // No number: no token set, so read as a wire answer, which has no access_token.
    ["a string", String(Date.now() + 3_600_000), 'field "access_token" is missing'],
    ["missing", undefined, 'field "access_token" is missing'],
  ])(
    "refuses a creator's token set whose expiresAt is %s, naming a field and no token",
    async (_what, expiresAt, problem) => {
      const set = {
        accessToken: "at-secret",
        tokenType: "Bearer",
        expiresAt,
        refreshToken: "rt-secret",
        raw: {},
      };
      const { manager, calls } = setup({}, () => set);
      const error = await rejected(manager.getToken());
      expect(error).toBeInstanceOf(InvalidResponseError);
      expect(error).toMatchObject({
        code: "ERR_TOKENKEEP_INVALID_RESPONSE",
        message: `invalid token response: ${problem}`,
        transient: false,
      });
      expectNoSecretIn([String(error), JSON.stringify(error)], ["at-secret", "rt-secret"], "the error");
      // Refused for good (remembered for failureCacheMs), not called again on every getToken.
      expect(await rejected(manager.getToken())).toBe(error);
      expect(calls).toHaveLength(1);
      expect(manager.stats().entries).toBe(0);
    },
  );

  it("refreshes a creator's set whose refreshAt is NaN ahead of expiry, as one without the hint", async () => {
    const { manager, calls, time } = setup({}, (n) => ({
      accessToken: `at-${n}`,
      tokenType: "Bearer",
      expiresAt: time.now() + HOUR_S * 1000,
      refreshAt: Number.NaN,
      raw: {},
    }));
    await manager.getToken();
    await manager.getToken();
    // Served from the cache (a NaN refresh point sent every call down the slow path)...
    expect(manager.stats().hits).toBe(1);
    // ...and refreshed in the background once the refresh-ahead share of its life has passed.
    await time.advance(HOUR_S * 1000 * 0.8);
    expect((await manager.getToken()).accessToken).toBe("at-1");
    await time.settle();
    expect(calls).toHaveLength(2);
    expect((await manager.getToken()).accessToken).toBe("at-2");
  });

  it("takes a creator's token set whose fields are getters (a class instance), and caches it", async () => {
    class Issued {
      readonly #expiresAt: number;
      constructor(expiresAt: number) {
        this.#expiresAt = expiresAt;
      }
      get accessToken() {
        return "at-class";
      }
      get tokenType() {
        return "Bearer";
      }
      get expiresAt() {
        return this.#expiresAt;
      }
      get raw() {
        return {};
      }
    }
    let now = () => 0;
    const { manager, calls, time } = setup({}, () => new Issued(now() + HOUR_S * 1000));
    now = time.now;
    const first = await manager.getToken();
    expect(first).toBeInstanceOf(Issued);
    expect(first.accessToken).toBe("at-class");
    expect(await manager.getToken()).toBe(first);
    expect(calls).toHaveLength(1);
  });

  it("retries transient failures with full-jitter exponential backoff", async () => {
    const { manager, calls, time, events } = setup({ random: () => 0.999 }, (n) => {
      if (n < 3) throw new OAuthError({ error: "server_error", status: 503 });
      return { access_token: "at-3", expires_in: HOUR_S };
    });
    const pending = manager.getToken();
    await time.settle();
    expect(calls).toHaveLength(1);
    await time.advance(199);
    expect(calls).toHaveLength(2);
    await time.advance(399);
    expect((await pending).accessToken).toBe("at-3");
    expect(events.filter((event) => event.type === "retry").map((event) => event.delayMs)).toEqual([
      199, 399,
    ]);
  });

  it("retries a custom creator's error carrying statusCode 503, as an HTTP client throws it", async () => {
    const { manager, calls, time, events } = setup({ random: () => 0.999 }, (n) => {
      if (n < 3) throw Object.assign(new Error("Service Unavailable"), { statusCode: 503 });
      return { access_token: "at-3", expires_in: HOUR_S };
    });
    const pending = manager.getToken();
    await time.advance(199);
    await time.advance(399);
    expect((await pending).accessToken).toBe("at-3");
    expect(calls).toHaveLength(3);
    expect(events.filter((event) => event.type === "retry")).toHaveLength(2);
    expect(manager.stats().retries).toBe(2);
  });

  it("gives up on a custom creator's 503 after the retries and surfaces the creator's own error", async () => {
    const unavailable = { statusCode: 503, message: "Service Unavailable" };
    const { manager, calls, time } = setup(
      { retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 100 } },
      () => {
        throw unavailable;
      },
    );
    const pending = rejected(manager.getToken());
    await time.advance(100);
    expect(await pending).toBe(unavailable);
    expect(calls).toHaveLength(3);
    // No Retry-After is invented for a foreign error, so no throttle window: the next call tries again.
    const again = rejected(manager.getToken());
    await time.advance(100);
    expect(await again).toBe(unavailable);
    expect(calls).toHaveLength(6);
    expect(manager.stats().throttled).toBe(0);
  });

  it.each([
    ["statusCode 401", () => Object.assign(new Error("Unauthorized"), { statusCode: 401 })],
    ["a TypeError from a bug", () => new TypeError("Cannot read properties of undefined (reading 'data')")],
    ["a plain Error", () => new Error("boom")],
  ])("surfaces a custom creator's %s at once", async (_what, make) => {
    const failure = make();
    const { manager, calls } = setup({}, () => {
      throw failure;
    });
    expect(await rejected(manager.getToken())).toBe(failure);
    expect(calls).toHaveLength(1);
    expect(manager.stats().retries).toBe(0);
  });

  it("honours Retry-After, then remembers a throttle window and fails fast", async () => {
    const { manager, calls, time } = setup({ retry: { retries: 1 } }, () => {
      throw new OAuthError({ error: "slow_down", status: 429, retryAfterMs: 5_000 });
    });
    const pending = rejected(manager.getToken());
    await time.settle();
    await time.advance(4_999);
    expect(calls).toHaveLength(1);
    await time.advance(1);
    expect(await pending).toMatchObject({ error: "slow_down" });
    expect(calls).toHaveLength(2);
    const fast = await rejected(manager.getToken());
    expect(fast).toBeInstanceOf(TokenkeepError);
    expect(fast).toMatchObject({ code: "ERR_TOKENKEEP_THROTTLED", transient: true, retryAfterMs: 5_000 });
    expect(calls).toHaveLength(2);
    expect(manager.stats().throttled).toBe(1);
    await time.advance(5_000);
    const again = rejected(manager.getToken());
    await time.settle();
    expect(calls).toHaveLength(3);
    await time.advance(5_000);
    expect(await again).toMatchObject({ error: "slow_down" });
  });

  it("bounds a server's Retry-After by maxThrottleMs, and forceRefresh waits for it too", async () => {
    // A 503 asking to come back on 1 January 2100: an HTTP date decades away.
    const { manager, calls, time } = setup({}, (n) => {
      if (n > 1) return { access_token: `at-${n}`, expires_in: HOUR_S };
      const retryAfterMs = Date.parse("Fri, 01 Jan 2100 00:00:00 GMT") - time.now();
      throw new OAuthError({ error: "temporarily_unavailable", status: 503, retryAfterMs });
    });
    expect(await rejected(manager.getToken())).toMatchObject({ status: 503 });
    expect(await rejected(manager.getToken({ forceRefresh: true }))).toMatchObject({
      code: "ERR_TOKENKEEP_THROTTLED",
      retryAfterMs: 300_000,
    });
    await time.advance(299_999);
    expect(await rejected(manager.getToken({ forceRefresh: true }))).toMatchObject({
      code: "ERR_TOKENKEEP_THROTTLED",
      retryAfterMs: 1,
    });
    expect(calls).toHaveLength(1);
    await time.advance(1);
    expect((await manager.getToken()).accessToken).toBe("at-2");

    const shorter = setup({ maxThrottleMs: 60_000 }, (n) => {
      if (n > 1) return { access_token: `at-${n}`, expires_in: HOUR_S };
      throw new OAuthError({ error: "slow_down", status: 429, retryAfterMs: 3_600_000 });
    });
    await rejected(shorter.manager.getToken());
    expect(await rejected(shorter.manager.getToken())).toMatchObject({ retryAfterMs: 60_000 });
    await shorter.time.advance(60_000);
    expect((await shorter.manager.getToken()).accessToken).toBe("at-2");
    expect(() =>
      createTokenManager({ creator: async () => ({ access_token: "a" }), maxThrottleMs: -1 }),
    ).toThrow("maxThrottleMs: expected a number >= 0 and <= 2147483647");
  });

  it("with maxThrottleMs 0, a background refresh still waits for the server's whole Retry-After", async () => {
    const { manager, calls, time } = setup({ maxThrottleMs: 0 }, (n) => {
      if (n === 2)
        throw new OAuthError({ error: "temporarily_unavailable", status: 503, retryAfterMs: 300_000 });
      return { access_token: `at-${n}`, expires_in: HOUR_S };
    });
    expect((await manager.getToken()).accessToken).toBe("at-1");
    await time.advance(HOUR_S * 1000 * 0.8); // inside the refresh-ahead window, far from expiry
    expect((await manager.getToken()).accessToken).toBe("at-1"); // served; the background refresh fails
    await time.advance(1_000);
    expect((await manager.getToken()).accessToken).toBe("at-1");
    await time.advance(298_000);
    expect((await manager.getToken()).accessToken).toBe("at-1");
    expect(calls).toHaveLength(2); // no retry inside the server's 5 minutes
    await time.advance(1_000);
    await manager.getToken();
    await time.advance(1);
    expect(calls).toHaveLength(3);
    expect((await manager.getToken()).accessToken).toBe("at-3");
  });

  it("does not wait inline for a Retry-After longer than maxDelayMs", async () => {
    const { manager, calls } = setup({}, () => {
      throw new OAuthError({ error: "temporarily_unavailable", status: 503, retryAfterMs: 60_000 });
    });
    expect(await rejected(manager.getToken())).toMatchObject({ status: 503 });
    expect(calls).toHaveLength(1);
    expect(await rejected(manager.getToken())).toMatchObject({ code: "ERR_TOKENKEEP_THROTTLED" });
  });
});

describe("createTokenManager: refresher and creator timeout", () => {
  it("renews through the refresher when the set has a refresh token, passing the previous set", async () => {
    const time = createFakeTime();
    const seen: (string | undefined)[] = [];
    const manager = createTokenManager({
      now: time.now,
      timers: time.timers,
      refreshAheadRatio: 1,
      creator: async () => ({ access_token: "from-creator", expires_in: 60, refresh_token: "rt-1" }),
      refresher: async ({ previous }) => {
        seen.push(previous?.refreshToken);
        return { access_token: "from-refresher", expires_in: 60 };
      },
    });
    expect((await manager.getToken()).accessToken).toBe("from-creator");
    await time.advance(60_000);
    const renewed = await manager.getToken();
    expect(renewed.accessToken).toBe("from-refresher");
    expect(renewed.refreshToken).toBe("rt-1"); // kept: the answer carried none
    expect(seen).toEqual(["rt-1"]);
  });

  it("falls back to the creator once when the refresher fails permanently", async () => {
    const time = createFakeTime();
    let creatorCalls = 0;
    let refresherCalls = 0;
    const manager = createTokenManager({
      now: time.now,
      timers: time.timers,
      refreshAheadRatio: 1,
      creator: async () => ({ access_token: `c-${++creatorCalls}`, expires_in: 60, refresh_token: "rt" }),
      refresher: async () => {
        refresherCalls++;
        throw new OAuthError({ error: "invalid_grant", status: 400 });
      },
    });
    await manager.getToken();
    await time.advance(60_000);
    expect((await manager.getToken()).accessToken).toBe("c-2");
    expect({ creatorCalls, refresherCalls }).toEqual({ creatorCalls: 2, refresherCalls: 1 });
  });

  it("does not carry the refresh token the refresher found dead into the creator's set", async () => {
    const time = createFakeTime();
    let creatorCalls = 0;
    let refresherCalls = 0;
    const previousSeen: (string | undefined)[] = [];
    const manager = createTokenManager({
      now: time.now,
      timers: time.timers,
      refreshAheadRatio: 1,
      creator: async ({ previous }) => {
        previousSeen.push(previous?.refreshToken);
        creatorCalls++;
        // The first grant issues a refresh token; the fallback grant (say, client credentials) does not.
        return creatorCalls === 1
          ? { access_token: "c-1", expires_in: 60, refresh_token: "rt-dead" }
          : { access_token: `c-${creatorCalls}`, expires_in: 60 };
      },
      refresher: async () => {
        refresherCalls++;
        throw new OAuthError({ error: "invalid_grant", status: 400 });
      },
    });
    await manager.getToken();
    await time.advance(60_000);
    const fallback = await manager.getToken();
    expect(fallback.accessToken).toBe("c-2");
    expect(fallback.refreshToken).toBeUndefined();
    // The next renewal goes straight to the creator instead of presenting the dead token again.
    await time.advance(60_000);
    expect((await manager.getToken()).accessToken).toBe("c-3");
    expect({ creatorCalls, refresherCalls }).toEqual({ creatorCalls: 3, refresherCalls: 1 });
    expect(previousSeen).toEqual([undefined, undefined, undefined]);
  });

  it("skips the refresher when the refresh token itself has expired", async () => {
    const time = createFakeTime();
    let refresherCalls = 0;
    const manager = createTokenManager({
      now: time.now,
      timers: time.timers,
      refreshAheadRatio: 1,
      creator: async () => ({
        access_token: "c",
        expires_in: 60,
        refresh_token: "rt",
        refresh_token_expires_in: 30,
      }),
      refresher: async () => {
        refresherCalls++;
        return { access_token: "r", expires_in: 60 };
      },
    });
    await manager.getToken();
    await time.advance(60_000);
    expect((await manager.getToken()).accessToken).toBe("c");
    expect(refresherCalls).toBe(0);
  });

  it("aborts a creator call after creatorTimeoutMs and retries it as transient", async () => {
    const { manager, calls, time } = setup({ creatorTimeoutMs: 1_000, random: () => 0 }, (n, context) =>
      n === 1
        ? new Promise<never>((_, reject) =>
            context.signal.addEventListener("abort", () => reject(context.signal.reason)),
          )
        : { access_token: `at-${n}`, expires_in: HOUR_S },
    );
    const pending = manager.getToken();
    await time.advance(999);
    expect(calls).toHaveLength(1);
    await time.advance(1);
    expect((await pending).accessToken).toBe("at-2");
    expect(calls[0]?.signal.aborted).toBe(true);
    expect(manager.stats().retries).toBe(1);
  });

  it("leaves no timer behind once a fetch is done", async () => {
    const { manager, time } = setup();
    await manager.getToken();
    expect(time.pending()).toBe(0);
    await manager.getToken({ forceRefresh: true, timeoutMs: 5_000, signal: new AbortController().signal });
    expect(time.pending()).toBe(0);
  });

  it("treats a 200 answer carrying error as that OAuth error", async () => {
    const { manager, calls } = setup({}, () => ({ error: "invalid_scope", access_token: "x" }));
    expect(await rejected(manager.getToken())).toMatchObject({ error: "invalid_scope", status: 200 });
    expect(calls).toHaveLength(1);
  });
});

/** The error a real `fetch` rejects with for a port nobody listens on (127.0.0.1). */
async function refusedConnection(): Promise<unknown> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return fetch(`http://127.0.0.1:${port}/token`, { method: "POST" }).then(
    () => {
      throw new Error("expected the connection to be refused");
    },
    (error: unknown) => error,
  );
}

/**
 * A manager whose first set carries refresh token rt-1 and whose refresher fails with `failures` (in
 * order) before answering; records which refresh token each refresher call presented.
 */
function rotating(failures: (() => unknown)[], overrides: Partial<TokenManagerOptions> = {}) {
  const time = createFakeTime(undefined, { crypto: overrides.shared !== undefined });
  const presented: (string | undefined)[] = [];
  const events: TokenEvent[] = [];
  let creatorCalls = 0;
  const manager = createTokenManager({
    now: time.now,
    timers: time.timers,
    random: () => 0,
    refreshAheadRatio: 1,
    onEvent: (event) => events.push(event),
    creator: async () => ({ access_token: `c-${++creatorCalls}`, expires_in: 60, refresh_token: "rt-1" }),
    refresher: async ({ previous, signal }) => {
      presented.push(previous?.refreshToken);
      const failure = failures.shift();
      if (failure === undefined) return { access_token: "r", expires_in: 60, refresh_token: "rt-2" };
      if (failure === hang) {
        return new Promise<never>((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
        );
      }
      throw failure();
    },
    ...overrides,
  });
  return { time, manager, presented, events, creatorCalls: () => creatorCalls };
}
const hang = () => undefined;

describe("createTokenManager: a refresh token is presented again only after a proven refusal", () => {
  const inDoubt: [string, () => unknown][] = [
    [
      "an HTML 502 from a gateway",
      () => new InvalidResponseError("502 with text/html", { status: 502, transient: true }),
    ],
    ["a 500 server_error", () => new OAuthError({ error: "server_error", status: 500 })],
    ["a bare 503 (a proxy's)", () => new InvalidResponseError("503", { status: 503, transient: true })],
    ["a connection reset", () => new NetworkError("connection reset", { cause: { code: "ECONNRESET" } })],
    ["a foreign error without status or code", () => new Error("socket hang up")],
  ];
  for (const [name, failure] of inDoubt) {
    it(`after ${name}: drops the refresh token and calls the creator, never the refresher again`, async () => {
      const { manager, time, presented, events, creatorCalls } = rotating([failure, failure]);
      await manager.getToken();
      await time.advance(60_000);
      expect((await manager.getToken()).accessToken).toBe("c-2");
      expect(presented).toEqual(["rt-1"]);
      expect(creatorCalls()).toBe(2);
      expect(manager.stats()).toMatchObject({ refreshTokensDropped: 1, retries: 0 });
      const dropped = events.filter((event) => event.type === "refresh-token-dropped");
      expect(dropped).toHaveLength(1);
      expect(dropped[0]?.error).toBeInstanceOf(Error);
    });
  }

  it("after creatorTimeoutMs aborted the refresher: never presents that refresh token again", async () => {
    const { manager, time, presented, creatorCalls } = rotating([hang], { creatorTimeoutMs: 1_000 });
    await manager.getToken();
    await time.advance(60_000);
    const pending = manager.getToken();
    await time.advance(1_000);
    expect((await pending).accessToken).toBe("c-2");
    expect(presented).toEqual(["rt-1"]);
    expect(creatorCalls()).toBe(2);
  });

  it("after the fetch's deadline passed mid-refresh: the next fetch calls the creator", async () => {
    const { manager, time, presented, creatorCalls } = rotating([hang], {
      creatorTimeoutMs: 10_000,
      fetchTimeoutMs: 5_000,
    });
    await manager.getToken();
    await time.advance(60_000);
    const pending = rejected(manager.getToken());
    await time.advance(5_000);
    expect(await pending).toMatchObject({ code: "ERR_TOKENKEEP_TIMEOUT" });
    expect((await manager.getToken()).accessToken).toBe("c-2");
    expect(presented).toEqual(["rt-1"]);
    expect(creatorCalls()).toBe(2);
  });

  it("forgets a dropped refresh token in the cache when the creator fails too", async () => {
    let creatorCalls = 0;
    const { manager, time, presented } = rotating(
      [() => new InvalidResponseError("502", { status: 502, transient: true })],
      {
        creator: async () => {
          creatorCalls++;
          if (creatorCalls === 2) throw new OAuthError({ error: "invalid_client", status: 401 });
          return { access_token: `c-${creatorCalls}`, expires_in: 60, refresh_token: "rt-1" };
        },
      },
    );
    await manager.getToken();
    await time.advance(60_000);
    expect(await rejected(manager.getToken())).toMatchObject({ error: "invalid_client" });
    expect((await manager.getToken({ forceRefresh: true })).accessToken).toBe("c-3");
    expect(presented).toEqual(["rt-1"]);
  });

  it("with a shared store: its copy of the set does not bring the dropped refresh token back", async () => {
    let creatorCalls = 0;
    const { manager, time, presented } = rotating(
      [() => new InvalidResponseError("502", { status: 502, transient: true })],
      {
        shared: shareStore(createMemoryStore()),
        creator: async () => {
          creatorCalls++;
          if (creatorCalls === 2) throw new OAuthError({ error: "invalid_client", status: 401 });
          return { access_token: `c-${creatorCalls}`, expires_in: 60, refresh_token: "rt-1" };
        },
      },
    );
    await manager.getToken();
    expect(manager.stats().storeWrites).toBe(1);
    await time.advance(60_000);
    expect(await rejected(manager.getToken())).toMatchObject({ error: "invalid_client" });
    expect((await manager.getToken({ forceRefresh: true })).accessToken).toBe("c-3");
    expect(presented).toEqual(["rt-1"]);
  });

  /** Managers on one shared store whose refresher and (after the first set) creator answer 502. */
  function sharedFailing() {
    const time = createFakeTime(undefined, { crypto: true });
    const store = createMemoryStore({ now: time.now });
    const fleet = failingFleet({ shared: shareStore(store), now: time.now, timers: time.timers });
    return { time, store, ...fleet };
  }

  it("with a shared store: another instance never presents a refresh token one dropped", async () => {
    const { time, presented, manager } = sharedFailing();
    const a = manager("A");
    const b = manager("B");
    await a.getToken();
    expect((await b.getToken()).refreshToken).toBe("rt-1");
    await time.advance(60_000);
    expect(await rejected(a.getToken())).toMatchObject({ status: 502 });
    expect(await rejected(b.getToken())).toMatchObject({ status: 502 });
    expect(presented).toEqual(["A:rt-1"]);
  });

  it("with a shared store: a copy in the store not usable yet never brings a dropped token back", async () => {
    const { time, store, presented, manager } = sharedFailing();
    const a = manager("A");
    await a.getToken();
    await time.advance(50_000);
    // Another instance's set, within the skew of its expiry: not taken, but its refresh token is.
    const set = { accessToken: "c-2", tokenType: "Bearer", expiresAt: time.now() + 20_000, raw: {} };
    const key = `tokenkeep:token:${await hashIdentityKey(DEFAULT_IDENTITY_KEY)}`;
    await store.set(key, { set: { ...set, refreshToken: "rt-c2" }, obtainedAt: 0 }, 20_000);
    expect(await rejected(a.getToken())).toMatchObject({ status: 502 });
    // Even when the store still holds it (its write failed, say), this manager remembers.
    await store.set(key, { set: { ...set, refreshToken: "rt-c2" }, obtainedAt: 0 }, 20_000);
    expect(await rejected(a.getToken())).toMatchObject({ status: 502 });
    expect(presented).toEqual(["A:rt-c2"]);
    expect(a.stats().refreshTokensDropped).toBe(1);
  });

  it("does not count a refresher aborted by dispose as a dropped refresh token", async () => {
    const { manager, time, events } = rotating([hang]);
    await manager.getToken();
    await time.advance(60_000);
    const pending = rejected(manager.getToken());
    await time.advance(0);
    await manager.dispose();
    expect(await pending).toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
    expect(manager.stats().refreshTokensDropped).toBe(0);
    expect(events.filter((event) => event.type === "refresh-token-dropped")).toEqual([]);
  });

  const refused: [string, () => unknown][] = [
    ["a 429", () => new OAuthError({ error: "slow_down", status: 429 })],
    [
      "a 503 with Retry-After",
      () => new InvalidResponseError("503", { status: 503, transient: true, retryAfterMs: 0 }),
    ],
    [
      "a 503 temporarily_unavailable",
      () => new OAuthError({ error: "temporarily_unavailable", status: 503 }),
    ],
    [
      "grants' NetworkError for a refused connection",
      () =>
        new NetworkError("token request failed: ECONNREFUSED", {
          cause: new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } }),
        }),
    ],
    ["the error a real fetch gives for a refused connection", refusedConnection],
  ];
  for (const [name, failure] of refused) {
    it(`after ${name}: retries the refresher with the same refresh token`, async () => {
      const error = await failure();
      const { manager, time, presented, creatorCalls } = rotating([() => error]);
      await manager.getToken();
      await time.advance(60_000);
      const pending = manager.getToken();
      await time.advance(0);
      expect((await pending).accessToken).toBe("r");
      expect(presented).toEqual(["rt-1", "rt-1"]);
      expect(creatorCalls()).toBe(1);
      expect(manager.stats()).toMatchObject({ refreshTokensDropped: 0, retries: 1 });
    });
  }
});

describe("createTokenManager: forceRefresh and events", () => {
  it("forceRefresh fetches a new token even when the cached one is valid, once for concurrent callers", async () => {
    const { manager, calls } = setup();
    await manager.getToken();
    const forced = await Promise.all([
      manager.getToken({ forceRefresh: true }),
      manager.getToken({ forceRefresh: true }),
    ]);
    expect(forced.map((set) => set.accessToken)).toEqual(["at-2", "at-2"]);
    expect(calls).toHaveLength(2);
  });

  it("a hook that calls back into the manager joins the flight instead of starting another", async () => {
    let manager: ReturnType<typeof createTokenManager> | undefined;
    const joined: Promise<unknown>[] = [];
    const { manager: created, calls } = setup({
      onEvent: (event) => {
        if (event.type === "refresh-start" && manager) joined.push(manager.getToken());
      },
    });
    manager = created;
    const set = await manager.getToken();
    expect(await Promise.all(joined)).toEqual([set]);
    expect(calls).toHaveLength(1);
    expect(manager.stats().coalesced).toBe(1);
  });

  it("ignores a throwing onEvent hook", async () => {
    const { manager } = setup({
      onEvent: () => {
        throw new Error("hook bug");
      },
    });
    expect((await manager.getToken()).accessToken).toBe("at-1");
    expect((await manager.getToken()).accessToken).toBe("at-1");
  });

  it("reports each step as one state object without any token in it", async () => {
    const { manager, events } = setup();
    await manager.getToken();
    await manager.getToken();
    expect(events.map((event) => event.type)).toEqual(["miss", "refresh-start", "refresh-success", "hit"]);
    expectNoSecretIn(JSON.stringify(events), "at-1", "the events' JSON");
  });
});

describe("createTokenManager: invalidate", () => {
  it("drops the cached token only when it is the one that failed", async () => {
    const { manager, calls } = setup();
    const first = await manager.getToken();
    expect(await manager.invalidate("some-other-token")).toBe(false);
    expect(await manager.getToken()).toBe(first);
    const results = await Promise.all([manager.invalidate(first), manager.invalidate(first.accessToken)]);
    expect(results).toEqual([true, false]);
    const second = await manager.getToken();
    expect(second.accessToken).toBe("at-2");
    expect(await manager.invalidate(first)).toBe(false);
    expect(calls).toHaveLength(2);
  });

  it("keeps a token that replaced an invalidated one for unauthorizedCooldownMs, counting the refusals", async () => {
    const { manager, calls, time } = setup({ unauthorizedCooldownMs: 10_000 });
    // A token that did not replace an invalidated one is dropped at once, however young.
    expect(await manager.invalidate(await manager.getToken())).toBe(true);
    const second = await manager.getToken();
    await time.advance(9_999);
    expect(await manager.invalidate(second)).toBe(false);
    expect(await manager.getToken()).toBe(second);
    expect(manager.stats().invalidationsRefused).toBe(1);
    await time.advance(1);
    expect(await manager.invalidate(second)).toBe(true);
    expect((await manager.getToken()).accessToken).toBe("at-3");
    // forceRefresh is never refused.
    expect((await manager.getToken({ forceRefresh: true })).accessToken).toBe("at-4");
    expect(calls).toHaveLength(4);
  });
});

describe("createTokenManager: dispose", () => {
  it("rejects waiters, clears every timer and refuses new calls", async () => {
    const { manager, time } = setup({}, () => new Promise<never>(() => {}));
    const waiting = rejected(manager.getToken({ timeoutMs: 60_000 }));
    await time.settle();
    expect(time.pending()).toBeGreaterThan(0);
    await manager.dispose();
    expect(await waiting).toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
    expect(time.pending()).toBe(0);
    expect(await rejected(manager.getToken())).toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
    expect(manager.stats()).toMatchObject({ entries: 0, inFlight: 0 });
  });

  it("settles an invalidate waiting on a hanging store, although dispose clears the store call's timer", async () => {
    const time = createFakeTime();
    const memory = createMemoryStore();
    let hang = false;
    const manager = createTokenManager({
      creator: async () => ({ access_token: "at-1", expires_in: HOUR_S }),
      now: time.now,
      timers: time.timers,
      shared: shareStore({
        get: (key) => (hang ? new Promise<never>(() => {}) : memory.get(key)),
        set: (key, value, ttlMs) => memory.set(key, value, ttlMs),
        delete: (key) => memory.delete(key),
      }),
    });
    const set = await manager.getToken();
    hang = true;
    let outcome: unknown = "pending";
    void manager.invalidate(set).then((dropped) => (outcome = dropped));
    await time.settle();
    await manager.dispose();
    await time.settle();
    // Its cached copy was dropped before the dispose; the store's copy is left alone.
    expect(outcome).toBe(true);
    expect(time.pending()).toBe(0);
  });
});

describe("createTokenManager: options", () => {
  it("rejects bad options with a TypeError listing path: message", () => {
    let error: unknown;
    try {
      createTokenManager({
        creator: "nope",
        skewMs: -1,
        unauthorizedCooldownMs: "30s",
      } as unknown as TokenManagerOptions<TokenIdentity>);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
    expect((error as Error).cause).toEqual([
      "creator: expected a function",
      "skewMs: expected a number >= 0 and <= 2147483647",
      "unauthorizedCooldownMs: expected a number >= 0 and <= 2147483647",
    ]);
  });

  it("rejects a misspelt or unknown option, naming the nearest known one", () => {
    const problems = (options: unknown) => {
      try {
        createTokenManager(options as TokenManagerOptions<TokenIdentity>);
      } catch (error) {
        expect(error).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
        return (error as Error).cause;
      }
      return [];
    };
    const creator = async () => ({ access_token: "a" });
    expect(problems({ creator, skewMS: 1_000 })).toEqual([
      "(options): unknown option `skewMS` - did you mean `skewMs`?",
    ]);
    // The option that moved to shareStore: no longer silently ignored.
    expect(problems({ creator, store: {} })).toEqual([
      "(options): unknown option `store` - did you mean `shared`?",
    ]);
    expect(problems({ creator, zzzzzzzz: 1 })).toEqual(["(options): unknown option `zzzzzzzz`"]);
    expect(problems({ creator, retry: { retires: 1 } })).toEqual([
      "retry: unknown option `retires` - did you mean `retries`?",
    ]);
  });

  it("bounds every delay: one past what a timer can wait is an error, not an instant timeout", async () => {
    const creator = async () => ({ access_token: "a", expires_in: 60 });
    expect(() => createTokenManager({ creator, creatorTimeoutMs: 3e9 })).toThrow(
      "creatorTimeoutMs: expected a number > 0 and <= 2147483647",
    );
    const manager = createTokenManager({ creator });
    for (const timeoutMs of [3e9, Number.NaN, 0, -1]) {
      await expect(manager.getToken({ timeoutMs })).rejects.toMatchObject({
        name: "TypeError",
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        message: "invalid getToken options: timeoutMs: expected a number > 0 and <= 2147483647",
      });
    }
    await expect(manager.getToken({ timeoutMs: 1_000 })).resolves.toMatchObject({ accessToken: "a" });
  });

  it("says what was expected, never the value given", () => {
    let error: unknown;
    try {
      createTokenManager({
        creator: async () => ({ access_token: "a" }),
        shared: 42,
        maxSkewFraction: 0.9,
        retry: { retries: 1.5 },
      } as unknown as TokenManagerOptions<TokenIdentity>);
    } catch (caught) {
      error = caught;
    }
    expect((error as Error).cause).toEqual([
      "shared: expected shareStore(store) from @tokenkeep/core/shared",
      "maxSkewFraction: expected a number >= 0 and <= 0.5",
      "retry.retries: expected an integer >= 0",
    ]);
    expect((error as Error).message).not.toContain("42");
  });
});

describe("createTokenManager: failures remembered and fetch budget", () => {
  const badCredentials = () => {
    throw new OAuthError({ error: "invalid_client", status: 401 });
  };

  it("remembers a permanent failure per identity for failureCacheMs, so wrong credentials cost one request", async () => {
    const { manager, calls, time, events } = setup({}, badCredentials);
    for (let i = 0; i < 5; i++) {
      expect(await rejected(manager.getToken())).toMatchObject({ error: "invalid_client" });
    }
    expect(calls).toHaveLength(1);
    expect(manager.stats().failuresRecalled).toBe(4);
    expect(events.filter((event) => event.type === "failure-recalled")).toHaveLength(4);
    // Another identity has its own memory.
    await rejected(manager.getToken({ identity: { scope: "other" } }));
    expect(calls).toHaveLength(2);
    // forceRefresh skips it; the window's end forgets it.
    await rejected(manager.getToken({ forceRefresh: true }));
    expect(calls).toHaveLength(3);
    await time.advance(5_000);
    await rejected(manager.getToken());
    expect(calls).toHaveLength(4);
  });

  it("does not remember transient failures, nor anything with failureCacheMs 0", async () => {
    const { manager, calls } = setup({ failureCacheMs: 0 }, badCredentials);
    await rejected(manager.getToken());
    await rejected(manager.getToken());
    expect(calls).toHaveLength(2);
    const transient = setup({ retry: { retries: 0 } }, () => {
      throw new NetworkError("connection reset");
    });
    await rejected(transient.manager.getToken());
    await rejected(transient.manager.getToken());
    expect(transient.calls).toHaveLength(2);
  });

  it("gives a caller its error within fetchTimeoutMs against an endpoint that hangs, not after every attempt's timeout", async () => {
    const { manager, time, calls } = setup({}, () => new Promise<never>(() => {}));
    let settled = false;
    const outcome = rejected(manager.getToken()).finally(() => {
      settled = true;
    });
    await time.advance(29_999);
    expect(settled).toBe(false);
    await time.advance(1);
    expect(await outcome).toMatchObject({ code: "ERR_TOKENKEEP_TIMEOUT" });
    // 10 s attempts: the hang was retried within the budget, never past it.
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThanOrEqual(3);
  });

  it("does not start a backoff that would end past the fetch budget", async () => {
    const { manager, time, calls } = setup(
      {
        fetchTimeoutMs: 1_000,
        creatorTimeoutMs: 400,
        retry: { retries: 5, baseDelayMs: 100, maxDelayMs: 100 },
      },
      () => new Promise<never>(() => {}),
    );
    const outcome = rejected(manager.getToken());
    await time.advance(1_000);
    expect(await outcome).toMatchObject({ code: "ERR_TOKENKEEP_TIMEOUT" });
    // 400 ms, ~50 ms backoff, 400 ms, then a backoff would pass 1 s: two or three attempts, never six.
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThanOrEqual(3);
  });

  it("applies the one-second skew floor: a 3 s token is handed out until 1 s before its expiry", async () => {
    const { manager, time, calls } = setup({}, (n) => ({ access_token: `at-${n}`, expires_in: 3 }));
    await manager.getToken();
    await time.advance(1_999);
    expect(manager.peek()?.accessToken).toBe("at-1");
    await time.advance(1);
    expect(manager.peek()).toBeUndefined();
    expect(calls).toHaveLength(1);
  });
});
