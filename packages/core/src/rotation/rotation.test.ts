import { describe, expect, it } from "vitest";
import { isOAuthError, isTimeoutError, NetworkError, OAuthError } from "../errors/errors.js";
import { createMemoryStore } from "../memory-store/memory-store.js";
import type { Store } from "../store/store.js";
import type { TokenResponse } from "../token/token-response.js";
import type { TokenSet } from "../token/token-set.js";
import {
  createRotationCoordinator,
  type RotationCoordinatorOptions,
  type RotationEvent,
  type RotationRedeemContext,
} from "./rotation.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A rotating, reuse-detecting authorization server in miniature (what oidc-provider does with
 * `rotateRefreshToken: true`): each refresh token works once; presenting a used one revokes the family.
 */
function rotatingServer(options: { delayMs?: number } = {}) {
  let counter = 0;
  const live = new Set(["rt-0"]);
  const used = new Set<string>();
  const state = { redemptions: 0, revoked: false };
  const redeem = async ({ refreshToken }: RotationRedeemContext): Promise<TokenResponse> => {
    state.redemptions++;
    await sleep(options.delayMs ?? 5);
    if (state.revoked || used.has(refreshToken) || !live.has(refreshToken)) {
      if (used.has(refreshToken)) {
        state.revoked = true;
        live.clear();
      }
      throw new OAuthError({ error: "invalid_grant", status: 400 });
    }
    live.delete(refreshToken);
    used.add(refreshToken);
    counter++;
    const next = `rt-${counter}`;
    live.add(next);
    return { access_token: `at-${counter}`, token_type: "bearer", expires_in: 300, refresh_token: next };
  };
  return { redeem, state, isLive: (token: string) => live.has(token) };
}

function coordinator(store: Store, redeem: RotationCoordinatorOptions["redeem"], extra = {}) {
  return createRotationCoordinator({ store, redeem, ...extra });
}

describe("createRotationCoordinator", () => {
  it("redeems a refresh token once for many concurrent callers in two instances sharing a store", async () => {
    const store = createMemoryStore();
    const server = rotatingServer({ delayMs: 20 });
    const a = coordinator(store, server.redeem);
    const b = coordinator(store, server.redeem);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, index) => (index % 2 ? a : b).rotate("rt-0")),
    );
    expect(server.state.redemptions).toBe(1);
    expect(server.state.revoked).toBe(false);
    for (const set of results) {
      expect(set).toEqual(results[0]);
    }
    expect(results[0]).toMatchObject({ accessToken: "at-1", refreshToken: "rt-1", tokenType: "Bearer" });
    expect(server.isLive("rt-1")).toBe(true);
    const stats = [a.stats(), b.stats()];
    expect(stats[0]!.redemptions + stats[1]!.redemptions).toBe(1);
    expect(stats[0]!.coalesced + stats[1]!.coalesced).toBe(198);
    expect(stats[0]!.successorHits + stats[1]!.successorHits).toBe(1);
  });

  it("works in one process without a store: late arrivals get the successor from a memory store", async () => {
    const server = rotatingServer();
    const rotation = createRotationCoordinator({ redeem: server.redeem });
    const first = await rotation.rotate("rt-0");
    const late = await rotation.rotate("rt-0");
    expect(late).toEqual(first);
    expect(server.state.redemptions).toBe(1);
    expect(rotation.stats()).toMatchObject({ redemptions: 1, successorHits: 1 });
    await rotation.dispose();
  });

  it("hands a late arrival the successor until successorTtlMs has passed", async () => {
    let clock = 1_000_000;
    const now = () => clock;
    const store = createMemoryStore({ now });
    const server = rotatingServer();
    const events: RotationEvent[] = [];
    const a = coordinator(store, server.redeem, { successorTtlMs: 10_000, now });
    const b = coordinator(store, server.redeem, {
      now,
      onEvent: (event: RotationEvent) => events.push(event),
    });
    const first = await a.rotate("rt-0");
    clock += 9_999;
    const late = await b.rotate("rt-0");
    expect(late).toEqual(first);
    expect(events.map((event) => event.type)).toEqual(["successor"]);
    expect(server.state.redemptions).toBe(1);

    clock += 1;
    // The successor is gone: the old token is presented again, and the server sees a reuse.
    await expect(b.rotate("rt-0")).rejects.toSatisfy(isOAuthError);
    expect(server.state.redemptions).toBe(2);
    expect(server.state.revoked).toBe(true);
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
    const rotation = coordinator(createMemoryStore(), async (context) => {
      seen.push(context);
      // No refresh_token in the answer: the one redeemed is kept.
      return { access_token: "new", expires_in: "60" };
    });
    const next = await rotation.rotate(current);
    expect(seen[0]!.previous).toBe(current);
    expect(seen[0]!.refreshToken).toBe("rt-keep");
    expect(seen[0]!.signal).toBeInstanceOf(AbortSignal);
    expect(next).toMatchObject({ accessToken: "new", refreshToken: "rt-keep" });

    await rotation.rotate("bare-token");
    expect(seen[1]!.previous).toMatchObject({ refreshToken: "bare-token", accessToken: "", expiresAt: 0 });
  });

  it("records a permanent failure so late arrivals fail without presenting the dead token again", async () => {
    const store = createMemoryStore();
    let calls = 0;
    const redeem = async () => {
      calls++;
      await sleep(10);
      throw new OAuthError({
        error: "invalid_grant",
        errorDescription: "grant request is invalid",
        status: 400,
      });
    };
    const a = coordinator(store, redeem);
    const b = coordinator(store, redeem);
    const outcomes = await Promise.allSettled([a.rotate("dead"), b.rotate("dead"), b.rotate("dead")]);
    const late = await a.rotate("dead").catch((error: unknown) => error);
    expect(calls).toBe(1);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      expect(isOAuthError((outcome as PromiseRejectedResult).reason)).toBe(true);
    }
    expect(late).toMatchObject({
      error: "invalid_grant",
      status: 400,
      errorDescription: "grant request is invalid",
    });
  });

  it("does not record a transient failure: the next rotation redeems again", async () => {
    let calls = 0;
    const rotation = coordinator(createMemoryStore(), async () => {
      calls++;
      if (calls === 1) throw new NetworkError("connection reset");
      return { access_token: "at", expires_in: 60, refresh_token: "rt-next" };
    });
    await expect(rotation.rotate("rt")).rejects.toBeInstanceOf(NetworkError);
    await expect(rotation.rotate("rt")).resolves.toMatchObject({ refreshToken: "rt-next" });
    expect(calls).toBe(2);
  });

  it("takes over when the lease holder died, once its lease expired", async () => {
    const store = createMemoryStore();
    const server = rotatingServer();
    const events: string[] = [];
    const rotation = coordinator(store, server.redeem, {
      leaseTtlMs: 80,
      onEvent: (event: RotationEvent) => events.push(event.type),
    });
    // An instance that died holding the lease of rt-0 (same key scheme, same store).
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("rt-0")));
    const hash = btoa(String.fromCharCode(...digest))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    expect(await store.acquire(`tokenkeep:rotation:lease:${hash}`, 80)).toBeTypeOf("function");

    const set = await rotation.rotate("rt-0");
    expect(set.refreshToken).toBe("rt-1");
    expect(events).toEqual(["lease-wait", "redeemed"]);
    expect(rotation.stats().leaseWaits).toBe(1);
    expect(server.state.redemptions).toBe(1);
  });

  it("keeps rotating per process while the store fails, and reports it once", async () => {
    const failing: Store = {
      get: () => Promise.reject(new Error("down")),
      set: () => Promise.reject(new Error("down")),
      delete: () => Promise.reject(new Error("down")),
      acquire: () => Promise.reject(new Error("down")),
    };
    const server = rotatingServer();
    const events: RotationEvent[] = [];
    const rotation = coordinator(failing, server.redeem, {
      onEvent: (event: RotationEvent) => events.push(event),
    });
    const results = await Promise.all(Array.from({ length: 20 }, () => rotation.rotate("rt-0")));
    expect(new Set(results.map((set) => set.accessToken))).toEqual(new Set(["at-1"]));
    expect(server.state.redemptions).toBe(1);
    expect(events.filter((event) => event.type === "store-degraded")).toHaveLength(1);
    expect(rotation.stats()).toMatchObject({ storeDegraded: true, storeDegradedCount: 1 });
    // A late arrival in this process still gets the successor, from memory.
    expect(await rotation.rotate("rt-0")).toEqual(results[0]);
    expect(server.state.redemptions).toBe(1);
  });

  it("times a slow store out and treats it as failing", async () => {
    const never = new Promise<never>(() => {});
    const slow: Store = { get: () => never, set: () => never, delete: () => never, acquire: () => never };
    const server = rotatingServer();
    const rotation = coordinator(slow, server.redeem, { storeTimeoutMs: 20 });
    await expect(rotation.rotate("rt-0")).resolves.toMatchObject({ refreshToken: "rt-1" });
    expect(rotation.stats().storeFailures).toBeGreaterThan(0);
  });

  it("lets one caller give up without cancelling the redemption others wait on", async () => {
    const server = rotatingServer({ delayMs: 40 });
    const rotation = coordinator(createMemoryStore(), server.redeem);
    const controller = new AbortController();
    const impatient = rotation.rotate("rt-0", { signal: controller.signal });
    const patient = rotation.rotate("rt-0");
    const timed = rotation.rotate("rt-0", { timeoutMs: 5 });
    controller.abort();
    await expect(impatient).rejects.toMatchObject({ code: "ERR_TOKENKEEP_ABORTED" });
    await expect(timed).rejects.toSatisfy(isTimeoutError);
    await expect(patient).resolves.toMatchObject({ refreshToken: "rt-1" });
    expect(server.state.redemptions).toBe(1);
  });

  it("aborts a redemption that outlives its lease", async () => {
    let signal: AbortSignal | undefined;
    const rotation = coordinator(
      createMemoryStore(),
      (context) => {
        signal = context.signal;
        return new Promise((_, reject) =>
          context.signal.addEventListener("abort", () => reject(context.signal.reason)),
        );
      },
      { leaseTtlMs: 30 },
    );
    await expect(rotation.rotate("rt")).rejects.toSatisfy(isTimeoutError);
    expect(signal?.aborted).toBe(true);
  });

  it("writes only hashes of refresh tokens into store keys", async () => {
    const inner = createMemoryStore();
    const keys: string[] = [];
    const seen = (key: string) => {
      keys.push(key);
      return key;
    };
    const recording: Store = {
      get: (key) => inner.get(seen(key)),
      set: (key, value, ttl) => inner.set(seen(key), value, ttl),
      delete: (key) => inner.delete(seen(key)),
      acquire: (key, ttl) => inner.acquire(seen(key), ttl),
    };
    const server = rotatingServer();
    await coordinator(recording, server.redeem, { keyPrefix: "app:" }).rotate("rt-0");
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatch(/^app:rotation:(successor|lease):[A-Za-z0-9_-]{43}$/);
      expect(key).not.toContain("rt-0");
    }
  });

  it("rejects rotations in flight and new ones once disposed", async () => {
    let redeeming!: () => void;
    const called = new Promise<void>((resolve) => {
      redeeming = resolve;
    });
    const rotation = coordinator(createMemoryStore(), (context) => {
      redeeming();
      return new Promise((_, reject) =>
        context.signal.addEventListener("abort", () => reject(context.signal.reason)),
      );
    });
    const pending = rotation.rotate("rt");
    await called;
    await rotation[Symbol.asyncDispose]();
    await expect(pending).rejects.toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
    await expect(rotation.rotate("rt")).rejects.toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
  });

  it("never redeems a rotation that was disposed before it reached the redemption", async () => {
    let calls = 0;
    const rotation = coordinator(createMemoryStore(), async () => {
      calls++;
      return { access_token: "at", expires_in: 60, refresh_token: "rt-next" };
    });
    // dispose() runs while rotate() is still hashing the refresh token.
    const pending = rotation.rotate("rt");
    await rotation.dispose();
    await expect(pending).rejects.toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
    expect(calls).toBe(0);
  });

  it("settles rotations at dispose even when redeem ignores its signal", async () => {
    let redeeming!: () => void;
    const called = new Promise<void>((resolve) => {
      redeeming = resolve;
    });
    const rotation = coordinator(createMemoryStore(), () => {
      redeeming();
      return new Promise<never>(() => {});
    });
    const pending = rotation.rotate("rt");
    await called;
    await rotation.dispose();
    await expect(pending).rejects.toMatchObject({ code: "ERR_TOKENKEEP_DISPOSED" });
  });

  it("validates its options and its argument", async () => {
    const bad = () =>
      createRotationCoordinator({ store: {} as Store, redeem: "no" as never, successorTtlMs: -1 });
    expect(bad).toThrow(TypeError);
    try {
      bad();
    } catch (error) {
      expect(error).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
      expect((error as Error).cause).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^store: /),
          expect.stringMatching(/^redeem: /),
          expect.stringMatching(/^successorTtlMs: /),
        ]),
      );
    }
    const rotation = coordinator(createMemoryStore(), rotatingServer().redeem);
    await expect(rotation.rotate("")).rejects.toThrow(TypeError);
    await expect(
      rotation.rotate({ accessToken: "a", tokenType: "Bearer", expiresAt: 0, raw: {} }),
    ).rejects.toThrow(/refresh token/);
  });
});
