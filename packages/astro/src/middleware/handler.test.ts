import {
  InvalidResponseError,
  NetworkError,
  OAuthError,
  TokenkeepError,
  type TokenSet,
} from "@tokenkeep/core";
import { createMemoryStore } from "@tokenkeep/core/memory-store";
import type { APIContext, MiddlewareHandler } from "astro";
import { sequence } from "astro/middleware";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { cookieValues, makeContext, setCookies } from "../../test/helpers/context.js";
import { watchLimitTimers } from "../../test/helpers/limit-timers.js";
import { parseConfig, type TokenkeepConfig, type Upstream } from "../config/schema.js";
import { createCookieSealer } from "../cookie-seal.js";
import type { TokenkeepEvent } from "../events.js";
import type { SignOutResult, TokenkeepLocals } from "../locals.js";
import { requestStorage } from "../request-context.js";
import {
  getAccessToken,
  isSessionTooLarge,
  isSignInError,
  isSignOutError,
  SessionTooLargeError,
} from "../server/index.js";
import { SESSION_PAYLOAD_KEY, type Session } from "../session.js";
import { readSessionCookie, writeSessionCookie } from "../session-cookies.js";
import {
  assertCookieSecret,
  createTokenkeepMiddleware,
  MissingSecretError,
  type TokenkeepMiddleware,
} from "./handler.js";

const SECRET = "middleware-test-secret-0123456789abcdef";
const START = 1_800_000_000_000;
const settings = { name: "tokenkeep", domain: undefined, maxAgeS: 1000 };

/** A counting upstream: each refresh token redeems once into the next generation, as a rotating server does. */
function makeUpstream(behaviour: { fail?: (refreshToken: string) => unknown; lifetimeMs?: number } = {}) {
  const redeemed: string[] = [];
  const upstream: Upstream = {
    signIn: async () => {
      throw new Error("not used");
    },
    refresh: async ({ refreshToken }) => {
      redeemed.push(refreshToken);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const failure = behaviour.fail?.(refreshToken);
      if (failure !== undefined) throw failure;
      const generation = Number(refreshToken.split("-").at(-1)) + 1;
      const set: TokenSet = {
        accessToken: `at-${generation}`,
        tokenType: "Bearer",
        expiresAt: clock.now + (behaviour.lifetimeMs ?? 300_000),
        refreshToken: `rt-${generation}`,
        raw: {},
      };
      return set;
    },
  };
  return { upstream, redeemed };
}

/** An upstream whose sign-in answers `at-1`/`rt-1`, valid 5 minutes, with `raw` as the answer's extra fields. */
function signingInUpstream(raw: TokenSet["raw"] = {}): Upstream {
  return {
    ...makeUpstream().upstream,
    signIn: async () => ({
      accessToken: "at-1",
      tokenType: "Bearer",
      expiresAt: clock.now + 300_000,
      refreshToken: "rt-1",
      raw,
    }),
  };
}

const clock = { now: START };
/**
 * The upstream's own 503 (it sent `Retry-After`): it refused before redeeming, so the token is intact
 * (transient). A bare 503 is no proof (a gateway's, maybe after the upstream rotated): in doubt.
 */
const unavailable = () =>
  new InvalidResponseError("refresh answered 503", { status: 503, transient: true, retryAfterMs: 1_000 });
const middlewares: TokenkeepMiddleware[] = [];

afterEach(async () => {
  clock.now = START;
  await Promise.all(middlewares.splice(0).map((middleware) => middleware.dispose()));
});

function create(
  upstream: Upstream,
  overrides: Partial<TokenkeepConfig> = {},
  runtime: { dev?: boolean; warn?: (message: string) => void } = {},
) {
  const events: TokenkeepEvent[] = [];
  const middleware = createTokenkeepMiddleware(
    parseConfig({
      upstream,
      cookie: { secrets: [SECRET] },
      now: () => clock.now,
      onEvent: (event) => events.push(event),
      ...overrides,
    }),
    { dev: runtime.dev ?? false, warn: runtime.warn },
  );
  middlewares.push(middleware);
  return { middleware, events };
}

/** Cookies carrying `session`, sealed as the middleware seals them. */
async function sessionCookies(session: Session, url = "http://app.test/"): Promise<Record<string, string>> {
  const context = makeContext(url);
  await writeSessionCookie(
    {
      jar: context.cookies,
      secure: url.startsWith("https:"),
      settings,
      sealer: createCookieSealer([SECRET], settings.name),
      now: () => clock.now,
    },
    session,
  );
  return cookieValues(setCookies(context));
}

const session = (generation: number, expiresInMs: number): Session => ({
  accessToken: `at-${generation}`,
  tokenType: "Bearer",
  expiresAt: clock.now + expiresInMs,
  refreshToken: `rt-${generation}`,
});

/** Runs a request through `middleware`; `next` records what the page would see. */
async function run(
  middleware: MiddlewareHandler,
  url: string,
  options: Parameters<typeof makeContext>[1] & { prerendered?: boolean } = {},
) {
  const context = makeContext(url, options) as APIContext;
  if (options.prerendered) Object.defineProperty(context, "isPrerendered", { value: true });
  const seen: { calls: number; token?: string | undefined; fromStorage?: string | undefined } = { calls: 0 };
  const response = await middleware(context, async () => {
    seen.calls++;
    const locals = (context.locals as { tokenkeep: TokenkeepLocals }).tokenkeep;
    seen.token = await locals.getAccessToken();
    seen.fromStorage = await getAccessToken();
    return new Response("page");
  });
  const locals = (context.locals as { tokenkeep?: TokenkeepLocals }).tokenkeep;
  return { response: response as Response, seen, locals, setCookie: setCookies(context), context };
}

async function readBack(setCookie: string[], url = "http://app.test/") {
  const context = makeContext(url, { cookies: cookieValues(setCookie) });
  return readSessionCookie({
    jar: context.cookies,
    secure: url.startsWith("https:"),
    settings,
    sealer: createCookieSealer([SECRET], settings.name),
    now: () => clock.now,
  });
}

describe("middleware: reading sessions", () => {
  it("an anonymous request gets signed-out locals and no Set-Cookie", async () => {
    const { middleware } = create(makeUpstream().upstream);
    const { seen, locals, setCookie } = await run(middleware, "http://app.test/");
    expect(seen.calls).toBe(1);
    expect(locals?.signedIn).toBe(false);
    expect(seen.token).toBeUndefined();
    expect(setCookie).toEqual([]);
  });

  it("a valid session outside the refresh window: signed in, same token in locals and storage, no Set-Cookie", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware } = create(upstream);
    const cookies = await sessionCookies({ ...session(1, 600_000), sessionPayload: { sub: "alice" } });
    const { seen, locals, setCookie } = await run(middleware, "http://app.test/", { cookies });
    expect(locals?.signedIn).toBe(true);
    expect(locals?.sessionPayload).toEqual({ sub: "alice" });
    expect(seen.token).toBe("at-1");
    expect(seen.fromStorage).toBe("at-1");
    expect(setCookie).toEqual([]);
    expect(redeemed).toEqual([]);
    expectNoSecretIn(JSON.stringify(locals), "at-1", "the locals' JSON");
  });

  it("outside a request, getAccessToken() resolves undefined", async () => {
    expect(await getAccessToken()).toBeUndefined();
  });

  it("prerendered routes: cookies neither read nor written, even with a session due for rotation", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware } = create(upstream);
    const cookies = await sessionCookies(session(1, 10_000));
    const { seen, locals, setCookie } = await run(middleware, "http://app.test/", {
      cookies,
      prerendered: true,
    });
    expect(seen.calls).toBe(1);
    expect(locals?.signedIn).toBe(false);
    expect(setCookie).toEqual([]);
    expect(redeemed).toEqual([]);
  });

  it("a tampered or foreign cookie is cleared (it can never be read) and the request is signed out", async () => {
    const { middleware } = create(makeUpstream().upstream);
    const { locals, setCookie } = await run(middleware, "http://app.test/", {
      cookies: { tokenkeep: "tk1.x.y.z" },
    });
    expect(locals?.signedIn).toBe(false);
    expect(cookieValues(setCookie)).toEqual({ tokenkeep: "deleted" });
  });
});

describe("middleware: rotation before next()", () => {
  it("rotates a session inside the refresh window before the page renders and sets the new cookie", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware, events } = create(upstream);
    const cookies = await sessionCookies({ ...session(1, 30_000), sessionPayload: { sub: "alice" } });
    const { seen, setCookie, response } = await run(middleware, "http://app.test/", { cookies });
    expect(redeemed).toEqual(["rt-1"]);
    // A public page carrying a rotated session cookie: no shared cache may keep it for the next user.
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    expect(seen.token).toBe("at-2");
    expect(seen.fromStorage).toBe("at-2");
    const written = await readBack(setCookie);
    expect(written).toMatchObject({
      accessToken: "at-2",
      refreshToken: "rt-2",
      sessionPayload: { sub: "alice" },
    });
    expect(middleware.stats()).toMatchObject({ rotations: 1, successorHits: 0, refreshFailures: 0 });
    expect(events.map((event) => event.type)).toEqual(["rotated"]);
  });

  it("50 parallel requests of one expiring session cause one refresh, and all render with the new token", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware } = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    const results = await Promise.all(
      Array.from({ length: 50 }, () => run(middleware, "http://app.test/", { cookies })),
    );
    expect(redeemed).toEqual(["rt-1"]);
    for (const result of results) {
      expect(result.seen.token).toBe("at-2");
      expect((await readBack(result.setCookie))?.refreshToken).toBe("rt-2");
    }
  });

  it("a request arriving with the just-rotated refresh token is served with the successor", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware, events } = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    await run(middleware, "http://app.test/", { cookies });
    clock.now += 1_000;
    const late = await run(middleware, "http://app.test/", { cookies });
    expect(redeemed).toEqual(["rt-1"]);
    expect(late.seen.token).toBe("at-2");
    expect((await readBack(late.setCookie))?.refreshToken).toBe("rt-2");
    expect(middleware.stats()).toMatchObject({ rotations: 2, successorHits: 1 });
    expect(events.map((event) => event.type)).toEqual(["rotated", "rotated"]);
  });

  it("a successor keeps the rotation's times, not the late request's: its refresh window starts when the pair was issued", async () => {
    // Tokens living 40 s: the refresh window is half their lifetime, 20 s before expiry.
    const { upstream, redeemed } = makeUpstream({ lifetimeMs: 40_000 });
    const { middleware } = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    const first = await run(middleware, "http://app.test/", { cookies });
    clock.now += 20_000; // within successorTtlMs (30 s)
    const late = await run(middleware, "http://app.test/", { cookies });
    expect(middleware.stats()).toMatchObject({ rotations: 2, successorHits: 1 });
    const issued = await readBack(first.setCookie);
    expect(issued?.issuedAt).toBe(START);
    // The same session, to the field: issued at the rotation, 20 s before this request.
    expect(await readBack(late.setCookie)).toEqual(issued);
    // 25 s after the rotation, 15 s before expiry: inside the 20 s window, so rotated (taken as issued
    // at the late request, the window would be 10 s and the pair not rotated yet).
    clock.now = START + 25_000;
    const due = await run(middleware, "http://app.test/", { cookies: cookieValues(late.setCookie) });
    expect(redeemed).toEqual(["rt-1", "rt-2"]);
    expect(due.seen.token).toBe("at-3");
  });

  it("another instance sharing the store picks the successor up with the rotation's time, read from the store's record", async () => {
    const { upstream, redeemed } = makeUpstream();
    const store = createMemoryStore({ now: () => clock.now });
    const one = create(upstream, { store }).middleware;
    const two = create(upstream, { store }).middleware;
    const cookies = await sessionCookies(session(1, 5_000));
    const first = await run(one, "http://app.test/", { cookies });
    clock.now += 20_000;
    const late = await run(two, "http://app.test/", { cookies });
    expect(redeemed).toEqual(["rt-1"]);
    expect(two.stats()).toMatchObject({ successorHits: 1 });
    expect((await readBack(late.setCookie))?.issuedAt).toBe(START);
    expect(await readBack(late.setCookie)).toEqual(await readBack(first.setCookie));
  });

  it("a successor's issue time from an instance whose clock runs ahead is never later than this instance's now", async () => {
    const { upstream, redeemed } = makeUpstream();
    const store = createMemoryStore({ now: () => clock.now });
    // The instance that redeems reads a clock 10 s ahead of the one the late request reaches.
    const ahead = create(upstream, { store, now: () => clock.now + 10_000 }).middleware;
    const two = create(upstream, { store }).middleware;
    const cookies = await sessionCookies(session(1, 5_000));
    await run(ahead, "http://app.test/", { cookies });
    clock.now += 5_000;
    const late = await run(two, "http://app.test/", { cookies });
    expect(redeemed).toEqual(["rt-1"]);
    expect(two.stats()).toMatchObject({ successorHits: 1 });
    // Taken as issued now, not 5 s in the future (which would narrow its refresh window and stretch
    // its 401 cooldown).
    expect((await readBack(late.setCookie))?.issuedAt).toBe(clock.now);
  });

  it("an expired access token without a refresh token is signed out, without touching cookies", async () => {
    const { middleware } = create(makeUpstream().upstream);
    const cookies = await sessionCookies({ ...session(1, 5_000), refreshToken: undefined });
    clock.now += 6_000;
    const { locals, setCookie } = await run(middleware, "http://app.test/", { cookies });
    expect(locals?.signedIn).toBe(false);
    expect(setCookie).toEqual([]);
  });

  it("tokens shorter-lived than the window are rotated at half their lifetime, not on every request", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware } = create(upstream); // window 60 s
    const cookies = await sessionCookies({ ...session(1, 40_000), issuedAt: clock.now });
    await run(middleware, "http://app.test/", { cookies });
    expect(redeemed).toEqual([]);
    clock.now += 20_001;
    const { seen, setCookie, response } = await run(middleware, "http://app.test/", { cookies });
    expect(redeemed).toEqual(["rt-1"]);
    // A public page carrying a rotated session cookie: no shared cache may keep it for the next user.
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    expect(seen.token).toBe("at-2");
    expect((await readBack(setCookie))?.issuedAt).toBe(clock.now);
  });

  it("the refresh window is an option", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware } = create(upstream, { refreshWindowMs: 1_000 });
    const cookies = await sessionCookies(session(1, 5_000));
    await run(middleware, "http://app.test/", { cookies });
    expect(redeemed).toEqual([]);
  });
});

describe("middleware: rotation failures", () => {
  it("invalid_grant: signed out, cookies cleared (they hold the rejected token), counted", async () => {
    const { upstream } = makeUpstream({
      fail: () => new OAuthError({ error: "invalid_grant", status: 400 }),
    });
    const { middleware, events } = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    const { locals, seen, setCookie } = await run(middleware, "http://app.test/", { cookies });
    expect(locals?.signedIn).toBe(false);
    expect(seen.token).toBeUndefined();
    expect(cookieValues(setCookie)).toEqual({ tokenkeep: "deleted" });
    expect(middleware.stats().refreshFailures).toBe(1);
    expect(events).toMatchObject([{ type: "refresh-failure", permanent: true }]);
  });

  // (ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED, a late request: "the old refresh token 60 s after its
  // rotation" below; it needs a real redemption first, which only the coordinator can record.)
  it("a redemption that failed in a way the coordinator cannot read: in doubt for good, signed out for this request, cookies untouched, counted as a late request", async () => {
    const { upstream } = makeUpstream({ fail: () => new TokenkeepError("ERR_SOMETHING", "unreadable") });
    const { middleware, events } = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    const { locals, setCookie } = await run(middleware, "http://app.test/", { cookies });
    expect(locals?.signedIn).toBe(false);
    expect(setCookie).toEqual([]);
    expect(middleware.stats()).toMatchObject({ lateRequests: 1, refreshFailures: 0 });
    expect(events).toMatchObject([
      { type: "late-request", error: { code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT" } },
    ]);
  });

  it("a transient failure keeps serving the still-valid access token, cookies untouched", async () => {
    const { upstream } = makeUpstream({ fail: () => unavailable() });
    const { middleware, events } = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    const { locals, seen, setCookie } = await run(middleware, "http://app.test/", { cookies });
    expect(locals?.signedIn).toBe(true);
    expect(seen.token).toBe("at-1");
    expect(setCookie).toEqual([]);
    expect(events).toMatchObject([{ type: "refresh-failure", permanent: false }]);
  });

  it("a transient failure with an expired access token: signed out for this request, cookies untouched", async () => {
    const { upstream } = makeUpstream({ fail: () => unavailable() });
    const { middleware } = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    clock.now += 10_000;
    const { locals, setCookie } = await run(middleware, "http://app.test/", { cookies });
    expect(locals?.signedIn).toBe(false);
    expect(setCookie).toEqual([]);
  });

  /** Signs out on a request whose rotation failed for now with an expired access token. */
  async function logoutAfterTransientFailure(overrides: Partial<TokenkeepConfig>, upstream: Upstream) {
    const revoked: (string | undefined)[] = [];
    const { middleware, events } = create(
      {
        ...upstream,
        signOut: async ({ refreshToken }) => {
          revoked.push(refreshToken);
        },
      },
      overrides,
    );
    const cookies = await sessionCookies(session(1, 5_000));
    clock.now += 10_000;
    const context = makeContext("http://app.test/logout", { cookies }) as APIContext;
    let result: unknown;
    let signedInBefore: boolean | undefined;
    await middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      signedInBefore = tokenkeep.signedIn;
      result = await tokenkeep.logout();
      return new Response("signed out");
    });
    return { revoked, events, result, signedInBefore, setCookie: setCookies(context) };
  }

  it("logout() whose upstream sign-out ignores its signal ends within rotationTimeoutMs, the session cleared", async () => {
    const { middleware, events } = create(
      { ...makeUpstream().upstream, signOut: () => new Promise<void>(() => {}) },
      { rotationTimeoutMs: 50 },
    );
    const cookies = await sessionCookies(session(1, 600_000));
    const context = makeContext("http://app.test/logout", { cookies }) as APIContext;
    let result: SignOutResult | undefined;
    await middleware(context, async () => {
      result = await (context.locals as { tokenkeep: TokenkeepLocals }).tokenkeep.logout();
      return new Response("signed out");
    });
    expect(result?.revoked).toBe(false);
    expect((result?.error as Error | undefined)?.name).toBe("TimeoutError");
    expect(setCookies(context)[0]).toMatch(/^tokenkeep=deleted;/);
    expect(events.at(-1)).toMatchObject({ type: "signed-out", revoked: false });
  });

  it("logout()'s time limit is one timer, cleared once the upstream sign-out settled: none is left pending", async () => {
    // The sign-out's limit timer, told apart from others by its length.
    const LIMIT_MS = 43_217;
    using timers = watchLimitTimers(LIMIT_MS);
    /** Limit timers pending as each sign-out is called. */
    const pendingAtSignOut: number[] = [];
    const { middleware } = create(
      {
        ...makeUpstream().upstream,
        signOut: async ({ refreshToken }) => {
          pendingAtSignOut.push(timers.pending());
          if (refreshToken === "rt-2") throw new InvalidResponseError("logout answered 500", { status: 500 });
        },
      },
      { rotationTimeoutMs: LIMIT_MS },
    );
    const results: (SignOutResult | undefined)[] = [];
    const pendingAfter: number[] = [];
    // One that succeeds, one that fails: neither leaves its timer behind.
    for (const generation of [1, 2]) {
      const cookies = await sessionCookies(session(generation, 600_000));
      const context = makeContext("http://app.test/logout", { cookies }) as APIContext;
      await middleware(context, async () => {
        results.push(await (context.locals as { tokenkeep: TokenkeepLocals }).tokenkeep.logout());
        pendingAfter.push(timers.pending());
        return new Response("signed out");
      });
    }
    expect(results.map((result) => result?.revoked)).toEqual([true, false]);
    // Each sign-out runs under exactly one limit; none outlives it (an `AbortSignal.timeout`
    // would hold its timer for 43 s after it).
    expect(pendingAtSignOut).toEqual([1, 1]);
    expect(pendingAfter).toEqual([0, 0]);
  });

  it("login() whose session is too large and whose revocation ignores its signal still fails within rotationTimeoutMs", async () => {
    const { middleware } = create(
      {
        ...signingInUpstream({ [SESSION_PAYLOAD_KEY]: { profile: "p".repeat(20_000) } }),
        signOut: () => new Promise<void>(() => {}),
      },
      { rotationTimeoutMs: 50 },
    );
    const context = makeContext("http://app.test/login") as APIContext;
    let failure: unknown;
    await middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      failure = await tokenkeep.login({ username: "alice", password: "pw" }).catch((error: unknown) => error);
      return new Response("page");
    });
    expect((failure as { code?: string }).code).toBe("ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE");
  });

  it("logout() after the response started is refused (the cookies could no longer be cleared): nothing revoked, the session kept", async () => {
    const revoked: string[] = [];
    const upstream: Upstream = {
      ...makeUpstream().upstream,
      signOut: async ({ refreshToken }) => void revoked.push(refreshToken ?? ""),
    };
    const { middleware, events } = create(upstream);
    const cookies = await sessionCookies(session(1, 300_000));
    // A component rendering while the page streams: after the middleware returned.
    const { locals, context } = await run(middleware, "http://app.test/", { cookies });
    const error = await locals!.logout().catch((caught: unknown) => caught);
    expect(isSignOutError(error) && [error.name, error.code, error.transient]).toEqual([
      "SignOutError",
      "ERR_TOKENKEEP_SIGN_OUT_TOO_LATE",
      false,
    ]);
    expect(revoked).toEqual([]);
    expect(locals!.signedIn).toBe(true);
    expect(setCookies(context)).toEqual([]);
    expect(events).toEqual([]);
    // Before the response starts it signs out as usual.
    const early = makeContext("http://app.test/", { cookies }) as APIContext;
    await middleware(early, async () => {
      await (early.locals as { tokenkeep: TokenkeepLocals }).tokenkeep.logout();
      return new Response("page");
    });
    expect(revoked).toEqual(["rt-1"]);
  });

  it("logout() after a redemption in doubt for good (the upstream cannot be asked) revokes the token it holds, which nobody will redeem", async () => {
    const { revoked, result, signedInBefore } = await logoutAfterTransientFailure(
      {},
      makeUpstream({ fail: () => new NetworkError("connection reset") }).upstream,
    );
    expect(signedInBefore).toBe(false);
    expect(result).toEqual({ revoked: true });
    expect(revoked).toEqual(["rt-1"]);
  });

  it("logout() after a transient failure with an expired access token still revokes the stored refresh token", async () => {
    const { revoked, events, result, signedInBefore, setCookie } = await logoutAfterTransientFailure(
      {},
      makeUpstream({ fail: () => unavailable() }).upstream,
    );
    expect(signedInBefore).toBe(false);
    expect(result).toEqual({ revoked: true });
    expect(revoked).toEqual(["rt-1"]);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^tokenkeep=deleted;/);
    expect(events.map((event) => [event.type, event.revoked])).toEqual([
      ["refresh-failure", undefined],
      ["signed-out", true],
    ]);
  });

  it("logout() while the shared store is down (no rotation is safe) still revokes the stored refresh token", async () => {
    const down = async () => {
      throw new Error("store down");
    };
    const store = { ...createMemoryStore(), get: down, set: down, delete: down, acquire: down };
    const { redeemed, upstream } = makeUpstream();
    const { revoked, events, result } = await logoutAfterTransientFailure({ store }, upstream);
    expect(redeemed).toEqual([]);
    expect(result).toEqual({ revoked: true });
    expect(revoked).toEqual(["rt-1"]);
    expect(events.map((event) => [event.type, event.permanent ?? event.revoked])).toEqual([
      ["refresh-failure", false],
      ["signed-out", true],
    ]);
  });

  it("events never carry a token", async () => {
    const { upstream } = makeUpstream({
      fail: () => new OAuthError({ error: "invalid_grant", status: 400 }),
    });
    const { middleware, events } = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    await run(middleware, "http://app.test/?code=x", { cookies });
    const text = JSON.stringify(events);
    expectNoSecretIn(text, ["rt-1", "at-1"], "the events' JSON");
    expect(events[0]?.path).toBe("/");
  });
});

describe("middleware: with core's rotation coordinator", () => {
  it("a redemption without a definite answer (network error): in doubt, signed out, cookies untouched, never presented again", async () => {
    const { upstream, redeemed } = makeUpstream({ fail: () => new NetworkError("connection reset") });
    const { middleware } = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    const first = await run(middleware, "http://app.test/", { cookies });
    const again = await run(middleware, "http://app.test/", { cookies });
    for (const { locals, setCookie } of [first, again]) {
      expect(locals?.signedIn).toBe(false);
      expect(setCookie).toEqual([]);
    }
    expect(redeemed).toEqual(["rt-1"]);
    expect(middleware.stats().lateRequests).toBeGreaterThanOrEqual(1);
  });

  /**
   * An upstream that can be asked whether a refresh token is unredeemed; its first refresh fails as
   * `fault` says: a gateway's 502 before the upstream saw it, or a reset after it rotated the token.
   */
  function introspectedUpstream(fault: "gateway" | "reset") {
    let failed = false;
    const live = new Set(["rt-1"]);
    const asked: string[] = [];
    const { upstream, redeemed } = makeUpstream({
      fail: (refreshToken) => {
        if (failed) return undefined;
        failed = true;
        if (fault === "reset") {
          live.delete(refreshToken);
          return new NetworkError("connection reset");
        }
        return new InvalidResponseError("refresh answered 502", { status: 502, transient: true });
      },
    });
    const introspected: Upstream = {
      ...upstream,
      isRefreshTokenActive: async ({ refreshToken }) => {
        asked.push(refreshToken);
        return live.has(refreshToken);
      },
    };
    return { upstream: introspected, redeemed, asked };
  }

  it("a 502 with isRefreshTokenActive: the session is kept meanwhile, then checked and rotated once", async () => {
    const { upstream, redeemed, asked } = introspectedUpstream("gateway");
    const { middleware, events } = create(upstream, { rotationSettleMs: 1_000 });
    const cookies = await sessionCookies(session(1, 5_000));
    const first = await run(middleware, "http://app.test/", { cookies });
    clock.now += 500;
    const waiting = await run(middleware, "http://app.test/", { cookies });
    for (const { locals, seen, setCookie } of [first, waiting]) {
      expect(locals?.signedIn).toBe(true);
      expect(seen.token).toBe("at-1");
      expect(setCookie).toEqual([]);
    }
    expect(asked).toEqual([]);
    clock.now += 600;
    const checked = await run(middleware, "http://app.test/", { cookies });
    expect(checked.seen.token).toBe("at-2");
    expect(cookieValues(checked.setCookie).tokenkeep).toBeTypeOf("string");
    expect(asked).toEqual(["rt-1"]);
    expect(redeemed).toEqual(["rt-1", "rt-1"]);
    expect(middleware.stats()).toMatchObject({ lateRequests: 0 });
    expect(events.map((event) => event.type)).toEqual(["refresh-failure", "refresh-failure", "rotated"]);
  });

  it("a reset after the upstream rotated, with isRefreshTokenActive: after the settle time the session ends (cookies cleared)", async () => {
    const { upstream, redeemed, asked } = introspectedUpstream("reset");
    const { middleware } = create(upstream, { rotationSettleMs: 1_000 });
    const cookies = await sessionCookies(session(1, 5_000));
    expect((await run(middleware, "http://app.test/", { cookies })).seen.token).toBe("at-1");
    clock.now += 1_100;
    const checked = await run(middleware, "http://app.test/", { cookies });
    expect(checked.locals?.signedIn).toBe(false);
    expect(cookieValues(checked.setCookie)).toEqual({ tokenkeep: "deleted" });
    expect(asked).toEqual(["rt-1"]);
    expect(redeemed).toEqual(["rt-1"]);
  });

  it("a 429 with Retry-After holds the refresh token back (ERR_TOKENKEEP_THROTTLED, transient): served while the access token is valid, then signed out, cookies untouched, no 503; presented again after the window", async () => {
    let refused = false;
    const { upstream, redeemed } = makeUpstream({
      fail: () => {
        if (refused) return undefined;
        refused = true;
        return new InvalidResponseError("refresh answered 429", {
          status: 429,
          transient: true,
          retryAfterMs: 20_000,
        });
      },
    });
    const { middleware, events } = create(upstream, { store: createMemoryStore({ now: () => clock.now }) });
    const cookies = await sessionCookies(session(1, 5_000));
    const refusedNow = await run(middleware, "http://app.test/", { cookies });
    clock.now += 1_000;
    const held = await run(middleware, "http://app.test/", { cookies });
    for (const { locals, seen, setCookie } of [refusedNow, held]) {
      expect(locals?.signedIn).toBe(true);
      expect(seen.token).toBe("at-1");
      expect(setCookie).toEqual([]);
    }
    // Only the first request asked the upstream; the next one was refused by the coordinator.
    expect(redeemed).toEqual(["rt-1"]);
    expect(events).toMatchObject([
      { type: "refresh-failure", permanent: false, error: { status: 429 } },
      {
        type: "refresh-failure",
        permanent: false,
        error: { code: "ERR_TOKENKEEP_THROTTLED", transient: true, retryAfterMs: 19_000 },
      },
    ]);
    // The access token expired inside the window: signed out for this request, the page still
    // rendered (no 503), the cookies kept for after the window.
    clock.now += 5_000;
    const expired = await run(middleware, "http://app.test/", { cookies });
    expect([expired.locals?.signedIn, expired.response.status, expired.setCookie]).toEqual([false, 200, []]);
    expect(redeemed).toEqual(["rt-1"]);
    clock.now += 15_000;
    const after = await run(middleware, "http://app.test/", { cookies });
    expect(after.seen.token).toBe("at-2");
    expect(redeemed).toEqual(["rt-1", "rt-1"]);
  });

  it("the old refresh token 60 s after its rotation: signed out without presenting it again, cookies untouched", async () => {
    const { upstream, redeemed } = makeUpstream();
    // The store shares the test's clock, so the 30 s successor window really passes.
    const { middleware, events } = create(upstream, { store: createMemoryStore({ now: () => clock.now }) });
    const cookies = await sessionCookies(session(1, 5_000));
    const fresh = await run(middleware, "http://app.test/", { cookies });
    expect(fresh.seen.token).toBe("at-2");
    clock.now += 1_000;
    expect((await run(middleware, "http://app.test/", { cookies })).seen.token).toBe("at-2"); // successor
    clock.now += 59_000;
    const late = await run(middleware, "http://app.test/", { cookies });
    expect(late.locals?.signedIn).toBe(false);
    expect(late.setCookie).toEqual([]);
    expect(redeemed).toEqual(["rt-1"]);
    expect(middleware.stats()).toMatchObject({ lateRequests: 1, refreshFailures: 0 });
    expect(events.map((event) => event.type)).toEqual(["rotated", "rotated", "late-request"]);
  });
});

describe("middleware: registration and setup", () => {
  it("registered twice (two integrations, or also in src/middleware.ts), it handles a request once", async () => {
    // A rotation that fails transiently leaves the cookies as they were, so a second run would
    // read the same session and try again.
    const { upstream, redeemed } = makeUpstream({ fail: () => unavailable() });
    const first = create(upstream);
    const second = create(upstream);
    const cookies = await sessionCookies(session(1, 5_000));
    const { seen } = await run(sequence(first.middleware, second.middleware), "http://app.test/", {
      cookies,
    });
    expect(seen.calls).toBe(1);
    expect(seen.token).toBe("at-1");
    expect(redeemed).toEqual(["rt-1"]);
    expect(first.events.length + second.events.length).toBe(1);
  });

  it("Secure and the __Host- prefix follow the request's protocol as Astro sees it, never NODE_ENV", async () => {
    const saved = process.env.NODE_ENV;
    try {
      for (const [nodeEnv, url, expected] of [
        [
          "production",
          "http://app.test/",
          /^tokenkeep=tk1\.[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/,
        ],
        [
          "development",
          "https://app.test/",
          /^__Host-tokenkeep=tk1\.[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
        ],
      ] as const) {
        process.env.NODE_ENV = nodeEnv;
        const { middleware } = create(makeUpstream().upstream);
        const { seen, setCookie } = await run(middleware, url, {
          cookies: await sessionCookies(session(1, 5_000), url),
        });
        expect(seen.token).toBe("at-2");
        expect(setCookie).toHaveLength(1);
        expect(setCookie[0]).toMatch(expected);
      }
    } finally {
      process.env.NODE_ENV = saved;
    }
  });

  it("the request context is one AsyncLocalStorage on globalThis under Symbol.for: a duplicated copy of the module shares it", async () => {
    // Bundlers may duplicate a module (two chunks, two installs); a query string makes Vite load a second copy.
    const path = "../request-context.js?duplicate";
    const copy = (await import(/* @vite-ignore */ path)) as typeof import("../request-context.js");
    expect(copy.requestStorage).not.toBe(requestStorage);
    expect(copy.requestStorage()).toBe(requestStorage());
    expect((globalThis as Record<symbol, unknown>)[Symbol.for("tokenkeep.astro.request-context")]).toBe(
      requestStorage(),
    );
    const { middleware } = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(1, 600_000));
    const context = makeContext("http://app.test/", { cookies }) as APIContext;
    let fromCopy: string | undefined;
    await middleware(context, async () => {
      fromCopy = await copy.currentRequest()?.locals.getAccessToken();
      return new Response("page");
    });
    expect(fromCopy).toBe("at-1");
    // Nothing of the request is left once it is handled.
    expect(copy.currentRequest()).toBeUndefined();
    expect(await getAccessToken()).toBeUndefined();
  });

  it("production without a secret refuses to handle the request", async () => {
    const { middleware } = create(makeUpstream().upstream, { cookie: {} });
    await expect(run(middleware, "http://app.test/")).rejects.toBeInstanceOf(MissingSecretError);
  });

  it("the start-up check: no secret (option or TOKENKEEP_SECRET) or a short one throws, naming what to set", () => {
    const config = (cookie: TokenkeepConfig["cookie"]) =>
      parseConfig({ upstream: makeUpstream().upstream, cookie });
    const saved = process.env.TOKENKEEP_SECRET;
    try {
      delete process.env.TOKENKEEP_SECRET;
      expect(() => assertCookieSecret(config({}))).toThrow(MissingSecretError);
      expect(() => assertCookieSecret(config({}))).toThrow(/Set TOKENKEEP_SECRET/);
      expect(() => assertCookieSecret(config({ secrets: [] }))).toThrow(MissingSecretError);
      expect(() => assertCookieSecret(config({ secrets: "short" }))).toThrow(/at least 32 characters/);
      expect(() => assertCookieSecret(config({ secrets: SECRET }))).not.toThrow();
      process.env.TOKENKEEP_SECRET = ` ${SECRET} , `;
      expect(() => assertCookieSecret(config({}))).not.toThrow();
      process.env.TOKENKEEP_SECRET = "too-short";
      expect(() => assertCookieSecret(config({}))).toThrow(/at least 32 characters/);
    } finally {
      if (saved === undefined) delete process.env.TOKENKEEP_SECRET;
      else process.env.TOKENKEEP_SECRET = saved;
    }
  });

  it("warns once when a session cookie goes out without Secure to a request a proxy says was https", async () => {
    const warnings: string[] = [];
    const { upstream } = makeUpstream();
    const { middleware } = create(upstream, {}, { warn: (message) => warnings.push(message) });
    const cookies = await sessionCookies(session(1, 5_000));
    const proxied = { "x-forwarded-proto": "https" };
    // Nothing written: no warning.
    await run(middleware, "http://app.test/", { headers: proxied });
    expect(warnings).toEqual([]);
    // Rotated over plain http with no proxy header: none either.
    await run(middleware, "http://app.test/", { cookies });
    expect(warnings).toEqual([]);
    const { setCookie } = await run(middleware, "http://app.test/", {
      cookies: await sessionCookies(session(2, 5_000)),
      headers: proxied,
    });
    expect(setCookie[0]).not.toMatch(/Secure/);
    await run(middleware, "http://app.test/", {
      cookies: await sessionCookies(session(3, 5_000)),
      headers: proxied,
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/security\.allowedDomains/);
  });

  it("the dev server without a secret warns once and stores sessions unsealed", async () => {
    const warnings: string[] = [];
    delete (globalThis as Record<symbol, unknown>)[Symbol.for("tokenkeep.astro.warned-unsealed")];
    const { upstream } = makeUpstream();
    const { middleware } = create(
      upstream,
      { cookie: {} },
      { dev: true, warn: (message) => warnings.push(message) },
    );
    const plain = `tk0.${btoa(JSON.stringify({ v: 1, a: "at-1", t: "Bearer", e: clock.now + 5_000, r: "rt-1" })).replaceAll("=", "")}`;
    const { seen, setCookie } = await run(middleware, "http://app.test/", { cookies: { tokenkeep: plain } });
    await run(middleware, "http://app.test/");
    expect(seen.token).toBe("at-2");
    expect(cookieValues(setCookie).tokenkeep).toMatch(/^tk0\./);
    expect(warnings).toHaveLength(1);
  });
});

describe("middleware: storage in Astro's session", () => {
  /** A stand-in for Astro's session API (get, set, delete), backed by a map. */
  function astroSession(initial: Record<string, unknown> = {}) {
    const data = new Map(Object.entries(initial));
    const calls: string[] = [];
    const driver = { failWrites: false };
    return {
      data,
      calls,
      driver,
      get: async (key: string) => data.get(key),
      set: (key: string, value: unknown) => {
        calls.push("set");
        if (driver.failWrites) throw new Error("session driver: write failed");
        data.set(key, value);
      },
      delete: (key: string) => void data.delete(key),
      // Astro's: a new session id for this browser (the old one's data carried over) / ended.
      regenerate: async () => void calls.push("regenerate"),
      destroy: () => {
        calls.push("destroy");
        data.clear();
      },
    };
  }
  const sealed = async (value: Session) =>
    createCookieSealer([SECRET], settings.name).seal(
      JSON.stringify({ v: 1, a: value.accessToken, t: "Bearer", e: value.expiresAt, r: value.refreshToken }),
    );

  async function runWithSession(
    middleware: MiddlewareHandler,
    store: ReturnType<typeof astroSession> | undefined,
  ) {
    const context = makeContext("http://app.test/") as APIContext;
    Object.defineProperty(context, "session", { value: store });
    const seen: { token?: string | undefined } = {};
    const response = await middleware(context, async () => {
      seen.token = await (context.locals as { tokenkeep: TokenkeepLocals }).tokenkeep.getAccessToken();
      return new Response("page");
    });
    return { seen, setCookie: setCookies(context), response: response as Response };
  }

  it("a rotated session the driver cannot store: 503 to retry, the new pair kept; the retry gets it without a second redemption and stores it", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware, events } = create(upstream, { storage: "session" });
    const old = await sealed(session(1, 5_000));
    const store = astroSession({ tokenkeep: old });
    store.driver.failWrites = true;
    const failed = await runWithSession(middleware, store);
    expect(failed.response.status).toBe(503);
    expect(failed.response.headers.get("retry-after")).toBe("1");
    expect(await failed.response.json()).toEqual({ error: "session_unavailable" });
    expect(failed.seen.token).toBeUndefined(); // the page did not render
    expect(redeemed).toEqual(["rt-1"]);
    expect(store.data.get("tokenkeep")).toBe(old);
    expect(events.map((event) => [event.type, event.permanent])).toEqual([["refresh-failure", false]]);
    expect(middleware.stats()).toMatchObject({ rotations: 1, refreshFailures: 1 });

    // The driver is back: the retry, still holding rt-1, is answered the same new pair and stores it.
    store.driver.failWrites = false;
    const retried = await runWithSession(middleware, store);
    expect(retried.response.status).toBe(200);
    expect(retried.seen.token).toBe("at-2");
    expect(redeemed).toEqual(["rt-1"]);
    const stored = await createCookieSealer([SECRET], settings.name).unseal(
      store.data.get("tokenkeep") as string,
    );
    expect(JSON.parse(stored!)).toMatchObject({ a: "at-2", r: "rt-2" });
  });

  it("the 503's Retry-After keeps the retry inside the successor window: 1 s while room is left, else 0", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware } = create(upstream, { storage: "session" }); // successorTtlMs 30 s
    const old = await sealed(session(1, 5_000));
    const store = astroSession({ tokenkeep: old });
    store.driver.failWrites = true;
    expect((await runWithSession(middleware, store)).response.headers.get("retry-after")).toBe("1");
    // 28.5 s after the rotation the write still fails: the retry was the successor, with 1.5 s of its
    // window left, too little for a retry 1 s later plus its round trip.
    clock.now += 28_500;
    expect((await runWithSession(middleware, store)).response.headers.get("retry-after")).toBe("0");
    // 29.2 s after: 0.8 s left.
    clock.now += 700;
    const later = await runWithSession(middleware, store);
    expect(later.response.status).toBe(503);
    expect(later.response.headers.get("retry-after")).toBe("0");
    // Retried at once, the write works: served and stored, nothing redeemed again.
    store.driver.failWrites = false;
    const retried = await runWithSession(middleware, { ...store, data: new Map(store.data) });
    expect(retried.seen.token).toBe("at-2");
    // 1 s later, as "1" would have said, the window has passed: a late request, signed out.
    clock.now += 1_000;
    const tooLate = await runWithSession(middleware, astroSession({ tokenkeep: old }));
    expect(tooLate.seen.token).toBeUndefined();
    expect(redeemed).toEqual(["rt-1"]);

    // A window shorter than the second: 0 at once.
    const short = create(makeUpstream().upstream, { storage: "session", successorTtlMs: 1_500 }).middleware;
    const failing = astroSession({ tokenkeep: old });
    failing.driver.failWrites = true;
    expect((await runWithSession(short, failing)).response.headers.get("retry-after")).toBe("0");
  });

  it("a rotated session not stored before the successor window closed: no 503 (a retry would be late), signed out as that retry is, stored session untouched, logout revokes the new pair", async () => {
    const revoked: string[] = [];
    const { upstream, redeemed } = makeUpstream();
    const withSignOut: Upstream = {
      ...upstream,
      signOut: async ({ refreshToken }) => void revoked.push(refreshToken ?? ""),
    };
    const { middleware, events } = create(withSignOut, { storage: "session" }); // successorTtlMs 30 s
    const old = await sealed(session(1, 5_000));
    // A write that fails only after the window (30 s from the rotation's answer) has passed.
    const slowFailing = (initial: Record<string, unknown>) => ({
      ...astroSession(initial),
      set: () => {
        clock.now += 30_001;
        throw new Error("session storage: sealing failed");
      },
    });
    const store = slowFailing({ tokenkeep: old });
    const failed = await runWithSession(middleware, store);
    expect(failed.response.status).toBe(200);
    expect(failed.response.headers.get("retry-after")).toBeNull();
    expect(failed.seen.token).toBeUndefined(); // signed out, as the retry would be
    expect(store.data.get("tokenkeep")).toBe(old); // untouched
    expect(events.map((event) => [event.type, event.permanent])).toEqual([["refresh-failure", true]]);
    expect(middleware.stats()).toMatchObject({ rotations: 1, refreshFailures: 1 });
    // The retry is indeed a late request: signed out, nothing redeemed again.
    const retried = await runWithSession(middleware, astroSession({ tokenkeep: old }));
    expect(retried.seen.token).toBeUndefined();
    expect(redeemed).toEqual(["rt-1"]);

    // A page signing out in such a request revokes the new pair, which nobody may hold.
    clock.now = START;
    const other = create(withSignOut, { storage: "session" }).middleware;
    const context = makeContext("http://app.test/") as APIContext;
    Object.defineProperty(context, "session", { value: slowFailing({ tokenkeep: old }) });
    let result: SignOutResult | undefined;
    await other(context, async () => {
      result = await (context.locals as { tokenkeep: TokenkeepLocals }).tokenkeep.logout();
      return new Response("page");
    });
    expect(result).toEqual({ revoked: true });
    expect(revoked).toEqual(["rt-2"]);
  });

  it("reads, rotates and writes the sealed session there; the response sets no cookie of ours", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware } = create(upstream, { storage: "session" });
    const store = astroSession({ tokenkeep: await sealed(session(1, 5_000)) });
    const { seen, setCookie } = await runWithSession(middleware, store);
    expect(redeemed).toEqual(["rt-1"]);
    expect(seen.token).toBe("at-2");
    expect(setCookie).toEqual([]);
    const stored = store.data.get("tokenkeep") as string;
    expect(stored).toMatch(/^tk1\./);
    expectNoSecretIn(stored, "rt-2", "the stored session");
    expect(JSON.parse((await createCookieSealer([SECRET], settings.name).unseal(stored))!)).toMatchObject({
      r: "rt-2",
    });
  });

  it("invalid_grant deletes it; an unreadable value is deleted; nothing stored stays nothing", async () => {
    const { upstream } = makeUpstream({
      fail: () => new OAuthError({ error: "invalid_grant", status: 400 }),
    });
    const { middleware } = create(upstream, { storage: "session" });
    const rejected = astroSession({ tokenkeep: await sealed(session(1, 5_000)) });
    expect((await runWithSession(middleware, rejected)).seen.token).toBeUndefined();
    expect(rejected.data.has("tokenkeep")).toBe(false);
    const garbage = astroSession({ tokenkeep: "tk1.nope" });
    await runWithSession(middleware, garbage);
    expect(garbage.data.has("tokenkeep")).toBe(false);
    const empty = astroSession();
    await runWithSession(middleware, empty);
    expect(empty.data.size).toBe(0);
  });

  it("sign-in gives the browser a new session id before writing (no fixation); sign-out ends it", async () => {
    const signingIn = signingInUpstream();
    const { middleware } = create(signingIn, { storage: "session" });
    // A session id planted before sign-in (another subdomain, a shared machine).
    const planted = astroSession({ unrelated: "x" });
    const context = makeContext("http://app.test/") as APIContext;
    Object.defineProperty(context, "session", { value: planted });
    await middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      await tokenkeep.login({ username: "u", password: "p" });
      expect(planted.calls).toEqual(["regenerate", "set"]);
      await tokenkeep.logout();
      expect(planted.calls.at(-1)).toBe("destroy");
      return new Response("page");
    });
    expect(planted.data.has("tokenkeep")).toBe(false);
  });

  it("locals.tokenkeep's fields follow sign-in and sign-out within the request (a spread copies them as they are)", async () => {
    const signingIn = signingInUpstream({ [SESSION_PAYLOAD_KEY]: { name: "alice" } });
    const { middleware } = create(signingIn);
    const context = makeContext("http://app.test/") as APIContext;
    const seen: unknown[] = [];
    await middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      seen.push({ ...tokenkeep });
      await tokenkeep.login({ username: "u", password: "p" });
      seen.push({ ...tokenkeep });
      await tokenkeep.logout();
      seen.push({ ...tokenkeep });
      return new Response("page");
    });
    const fields = (copy: unknown) => {
      const { signedIn, sessionPayload, expiresAt } = copy as TokenkeepLocals;
      return { signedIn, sessionPayload, expiresAt };
    };
    expect(seen.map(fields)).toEqual([
      { signedIn: false, sessionPayload: undefined, expiresAt: undefined },
      { signedIn: true, sessionPayload: { name: "alice" }, expiresAt: clock.now + 300_000 },
      { signedIn: false, sessionPayload: undefined, expiresAt: undefined },
    ]);
  });

  it("without Astro sessions configured, the request fails with a message saying what to configure", async () => {
    const { middleware } = create(makeUpstream().upstream, { storage: "session" });
    await expect(runWithSession(middleware, undefined)).rejects.toThrow(/session\.driver/);
  });
});

describe("middleware: route protection", () => {
  const protect = { paths: ["/account/*", "/settings"] };

  it("a page request without a session is redirected to sign-in with a same-origin returnTo", async () => {
    const { middleware, events } = create(makeUpstream().upstream, { protect });
    const { response, seen } = await run(middleware, "http://app.test/account/orders?page=2", {
      headers: { accept: "text/html,application/xhtml+xml" },
    });
    expect(seen.calls).toBe(0);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/login?returnTo=%2Faccount%2Forders%3Fpage%3D2");
    expect(events.map((event) => event.type)).toEqual(["protected"]);
  });

  it("an endpoint or non-GET request gets 401; unprotected and signed-in requests pass", async () => {
    const { middleware } = create(makeUpstream().upstream, { protect });
    expect(
      (await run(middleware, "http://app.test/account", { headers: { accept: "application/json" } })).response
        .status,
    ).toBe(401);
    expect(
      (
        await run(middleware, "http://app.test/settings", {
          method: "POST",
          headers: { accept: "text/html" },
        })
      ).response.status,
    ).toBe(401);
    expect(
      (await run(middleware, "http://app.test/accounting", { headers: { accept: "text/html" } })).seen.calls,
    ).toBe(1);
    const cookies = await sessionCookies(session(1, 600_000));
    expect((await run(middleware, "http://app.test/account/x", { cookies })).seen.calls).toBe(1);
  });

  it("a protected page is sent no-store (the back button after sign-out shows nothing); others are untouched", async () => {
    const { middleware } = create(makeUpstream().upstream, { protect });
    const cookies = await sessionCookies(session(1, 600_000));
    const guarded = await run(middleware, "http://app.test/account/x", { cookies });
    expect(guarded.response.headers.get("cache-control")).toBe("private, no-store");
    const open = await run(middleware, "http://app.test/", { cookies });
    expect(open.response.headers.get("cache-control")).toBeNull();
  });

  it("a protected endpoint answering Response.redirect() (immutable headers) gets a no-store copy, Location kept", async () => {
    const { middleware } = create(makeUpstream().upstream, { protect });
    const cookies = await sessionCookies(session(1, 600_000));
    const context = makeContext("http://app.test/account/next", { cookies }) as APIContext;
    const response = (await middleware(context, async () =>
      Response.redirect("http://app.test/account/done", 303),
    )) as Response;
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("http://app.test/account/done");
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    // Astro appends the request's cookies to it after the chain: that must not throw.
    expect(() => response.headers.append("set-cookie", "a=b")).not.toThrow();
  });
});

describe("middleware: route protection with exclusions", () => {
  const html = { accept: "text/html" };

  it("an excluded path stays public under a protected prefix (the exclusion wins); its neighbours stay protected", async () => {
    const { middleware, events } = create(makeUpstream().upstream, {
      protect: { paths: ["/account/*"], exclude: ["/account/help/*", "/account/faq"] },
    });
    for (const url of [
      "http://app.test/account/help",
      "http://app.test/account/help/billing",
      "http://app.test/account/faq/",
    ]) {
      const open = await run(middleware, url, { headers: html });
      expect([url, open.seen.calls, open.response.headers.get("cache-control")]).toEqual([url, 1, null]);
    }
    for (const url of [
      "http://app.test/account",
      "http://app.test/account/helpdesk",
      "http://app.test/account/faq/x",
    ]) {
      expect([url, (await run(middleware, url, { headers: html })).response.status]).toEqual([url, 302]);
    }
    expect(events.map((event) => event.type)).toEqual(["protected", "protected", "protected"]);
  });

  it("the whole site protected but the sign-in page, which the exclusion lets /* cover; under a base too", async () => {
    const protect = { paths: ["/*"], exclude: ["/login", "/about"] };
    const { middleware } = create(makeUpstream().upstream, { protect });
    expect((await run(middleware, "http://app.test/login", { headers: html })).seen.calls).toBe(1);
    const denied = await run(middleware, "http://app.test/", { headers: html });
    expect(denied.response.headers.get("location")).toBe("/login?returnTo=%2F");
    const based = createTokenkeepMiddleware(
      parseConfig({ upstream: makeUpstream().upstream, cookie: { secrets: [SECRET] }, protect }),
      { dev: false, base: "/app" },
    );
    middlewares.push(based);
    expect((await run(based, "http://app.test/app/about", { headers: html })).seen.calls).toBe(1);
    expect((await run(based, "http://app.test/app/x", { headers: html })).response.status).toBe(302);
    // An exclusion written with the base would keep protected the page it names: refused.
    expect(() =>
      createTokenkeepMiddleware(
        parseConfig({
          upstream: makeUpstream().upstream,
          cookie: { secrets: [SECRET] },
          protect: { paths: ["/*"], exclude: ["/login", "/app/about"] },
        }),
        { dev: false, base: "/app" },
      ),
    ).toThrow(
      /protect\.exclude\.1: \/app\/about includes Astro's base \(\/app\); write it without the base: \/about/,
    );
  });

  it("refuses protection that covers a route the integration injects, unless excluded: sign-in and sign-out must work signed out", async () => {
    const routes = ["/_tokenkeep/login", "/_tokenkeep/logout"];
    const withRoutes = (protect: { paths: string[]; exclude?: string[] }) => {
      const middleware = createTokenkeepMiddleware(
        parseConfig({ upstream: makeUpstream().upstream, cookie: { secrets: [SECRET] }, protect }),
        { dev: false, routes },
      );
      middlewares.push(middleware);
      return middleware;
    };
    expect(() => withRoutes({ paths: ["/*"], exclude: ["/login"] })).toThrow(
      expect.objectContaining({
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        message:
          "invalid defineTokenkeepConfig options: protect.paths.0: /* covers /_tokenkeep/login, a route the " +
          "integration injects (its routes option), which must be reachable without a session; add it to " +
          "protect.exclude; protect.paths.0: /* covers /_tokenkeep/logout, a route the integration injects " +
          "(its routes option), which must be reachable without a session; add it to protect.exclude",
      }),
    );
    expect(() => withRoutes({ paths: ["/_tokenkeep/*"], exclude: ["/_tokenkeep/login"] })).toThrow(
      /covers \/_tokenkeep\/logout/,
    );
    const site = withRoutes({ paths: ["/*"], exclude: ["/login", "/_tokenkeep/*"] });
    const posted = await run(site, "http://app.test/_tokenkeep/login", { method: "POST" });
    expect(posted.seen.calls).toBe(1);
    // Without injected routes (the default) nothing is checked.
    expect(() =>
      createTokenkeepMiddleware(
        parseConfig({
          upstream: makeUpstream().upstream,
          cookie: { secrets: [SECRET] },
          protect: { paths: ["/*"], exclude: ["/login"] },
        }),
        { dev: false },
      ),
    ).not.toThrow();
  });

  it("a page a later middleware's next(path) rewrote to an excluded path is sent as a public page", async () => {
    const { middleware } = create(makeUpstream().upstream, {
      protect: { paths: ["/account/*"], exclude: ["/account/help"] },
    });
    const context = makeContext("http://app.test/go", { headers: html }) as APIContext;
    const response = (await middleware(context, async () => {
      Object.defineProperty(context, "url", { value: new URL("http://app.test/account/help") });
      return new Response("help");
    })) as Response;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("help");
  });
});

describe("middleware: route protection on re-entry (Astro.rewrite, a second registration)", () => {
  const protect = { paths: ["/account/*"] };
  const html = { accept: "text/html" };

  /**
   * A request for `from` whose page rewrites to `to` as Astro.rewrite() does: the middleware runs
   * again, for the new path, with the same locals. `afterFirst` runs in the first page before the
   * rewrite (a sign-out, say).
   */
  async function rewrite(
    middleware: MiddlewareHandler,
    from: string,
    to: string,
    options: {
      cookies?: Record<string, string>;
      afterFirst?: (locals: TokenkeepLocals) => Promise<unknown>;
    } = {},
  ) {
    const outer = makeContext(from, { cookies: options.cookies, headers: html }) as APIContext;
    let rendered = 0;
    const response = (await middleware(outer, async () => {
      await options.afterFirst?.((outer.locals as { tokenkeep: TokenkeepLocals }).tokenkeep);
      const inner = makeContext(to, { cookies: options.cookies, headers: html, locals: outer.locals });
      return (await middleware(inner as APIContext, async () => {
        rendered++;
        return new Response("account page");
      })) as Response;
    })) as Response;
    return { response, rendered };
  }

  it("signed out, a page rewriting to a protected path is redirected to sign-in (it rendered before the fix)", async () => {
    const { middleware, events } = create(makeUpstream().upstream, { protect });
    const { response, rendered } = await rewrite(
      middleware,
      "http://app.test/go?x=1",
      "http://app.test/account",
    );
    expect(rendered).toBe(0);
    expect(response.status).toBe(302);
    // Back to the page the browser asked for, not the path it was rewritten to.
    expect(response.headers.get("location")).toBe("/login?returnTo=%2Fgo%3Fx%3D1");
    expect(events.map((event) => event.type)).toEqual(["protected"]);
  });

  /**
   * A request for `from` that a later middleware rewrites to `to` with `next(to)`: Astro's sequence
   * replaces context.url and context.request, renders `to`, and does not run this middleware again.
   */
  async function rewriteByNext(
    middleware: MiddlewareHandler,
    from: string,
    to: string,
    cookies?: Record<string, string>,
    /**
     * `"state"`: the last middleware rewrote, so only Astro's request state (`url` under
     * `Symbol.for("astro.fetchState")`, which `state` stands for) moves, not the context.
     */
    by: { readonly state: Record<string, unknown> } | "context" = "context",
  ) {
    const context = makeContext(from, { cookies, headers: html }) as APIContext;
    if (by !== "context") Object.assign(context, { [Symbol.for("astro.fetchState")]: by.state });
    let rendered = 0;
    const body = { cancelled: false };
    const stream = new ReadableStream({
      pull: (controller) => controller.enqueue(new TextEncoder().encode("account page")),
      cancel: () => {
        body.cancelled = true;
      },
    });
    const response = (await middleware(context, async () => {
      const rewritten = makeContext(to, { cookies, headers: html });
      if (by === "context") {
        context.url = rewritten.url;
        context.request = rewritten.request;
      } else by.state.url = rewritten.url;
      rendered++;
      return new Response(stream);
    })) as Response;
    return { response, rendered, body };
  }

  it("a later middleware's next(path) to a protected path: the page it rendered is never sent without a session", async () => {
    const { middleware, events } = create(makeUpstream().upstream, { protect });
    const out = await rewriteByNext(middleware, "http://app.test/via?tab=2", "http://app.test/account");
    expect(out.response.status).toBe(302);
    expect(out.response.headers.get("location")).toBe("/login?returnTo=%2Fvia%3Ftab%3D2");
    expect(out.body.cancelled).toBe(true); // the rendered page is discarded, never sent
    expect(events.map((event) => [event.type, event.path])).toEqual([["protected", "/account"]]);
    const signedIn = await rewriteByNext(
      middleware,
      "http://app.test/via",
      "http://app.test/account",
      await sessionCookies(session(1, 600_000)),
    );
    expect(signedIn.response.status).toBe(200);
    expect(signedIn.response.headers.get("cache-control")).toBe("private, no-store");
    // A rewrite to a public path is left alone.
    const open = await rewriteByNext(middleware, "http://app.test/via", "http://app.test/about");
    expect(open.response.status).toBe(200);
    expect(open.response.headers.get("cache-control")).toBeNull();
  });

  it("the last middleware's next(path), seen in Astro's request state: protected alike; a state that is not as expected never breaks the request", async () => {
    const { middleware, events } = create(makeUpstream().upstream, { protect });
    const out = await rewriteByNext(middleware, "http://app.test/via", "http://app.test/account", undefined, {
      state: { url: new URL("http://app.test/via") },
    });
    expect(out.response.status).toBe(302);
    expect(out.response.headers.get("location")).toBe("/login?returnTo=%2Fvia");
    expect(out.body.cancelled).toBe(true);
    expect(events.map((event) => [event.type, event.path])).toEqual([["protected", "/account"]]);
    // A later Astro whose state reads differently (a throwing getter, a url of another type): only
    // that extra check is lost, the page is answered as it rendered.
    const throwing = {};
    Object.defineProperty(throwing, "url", {
      get: () => {
        throw new Error("not this Astro's state");
      },
      set: () => {},
    });
    // Its url a string, say: what the rewrite stores there is not a URL.
    const text = {};
    let stored = "";
    Object.defineProperty(text, "url", {
      get: () => stored,
      set: (value: URL) => {
        stored = value.pathname;
      },
    });
    for (const state of [throwing, text]) {
      const answered = await rewriteByNext(
        middleware,
        "http://app.test/via",
        "http://app.test/account",
        undefined,
        {
          state,
        },
      );
      expect(answered.response.status).toBe(200);
      expect(answered.body.cancelled).toBe(false);
    }
  });

  it("the discarded page's body is cancelled without waiting for it: a stream whose cancel never settles does not hold the answer", {
    timeout: 2_000,
  }, async () => {
    const { middleware } = create(makeUpstream().upstream, { protect });
    const context = makeContext("http://app.test/via", { headers: html }) as APIContext;
    let cancelled = false;
    const body = new ReadableStream({
      cancel: () => {
        cancelled = true;
        return new Promise<void>(() => {}); // an endpoint's stream that never finishes cancelling
      },
    });
    const response = (await middleware(context, async () => {
      context.url = new URL("http://app.test/account");
      return new Response(body);
    })) as Response;
    expect(response.status).toBe(302);
    expect(cancelled).toBe(true);
  });

  it("signed in, the rewritten protected page renders no-store, with no second read or rotation", async () => {
    const { upstream, redeemed } = makeUpstream();
    const { middleware, events } = create(upstream, { protect });
    // A session outside its refresh window: no cookie is written, so only protection marks it.
    const valid = await rewrite(middleware, "http://app.test/go", "http://app.test/account", {
      cookies: await sessionCookies(session(1, 600_000)),
    });
    expect(valid.rendered).toBe(1);
    expect(valid.response.status).toBe(200);
    expect(valid.response.headers.get("cache-control")).toBe("private, no-store");
    // Due for rotation: a second read of the cookies would redeem rt-1 again.
    const due = await rewrite(middleware, "http://app.test/go", "http://app.test/account", {
      cookies: await sessionCookies(session(1, 5_000)),
    });
    expect(due.rendered).toBe(1);
    expect(redeemed).toEqual(["rt-1"]);
    expect(events.map((event) => event.type)).toEqual(["rotated"]);
  });

  it("against the session the request has now: signed out by the first page, the rewrite is refused", async () => {
    const { middleware } = create(makeUpstream().upstream, { protect });
    const cookies = await sessionCookies(session(1, 600_000));
    const { response, rendered } = await rewrite(
      middleware,
      "http://app.test/go",
      "http://app.test/account",
      {
        cookies,
        afterFirst: (locals) => locals.logout(),
      },
    );
    expect(rendered).toBe(0);
    expect(response.status).toBe(302);
  });

  it("registered twice with protection, a protected request is still handled once", async () => {
    const { upstream, redeemed } = makeUpstream();
    const first = create(upstream, { protect });
    const second = create(upstream, { protect });
    const both = sequence(first.middleware, second.middleware);
    const cookies = await sessionCookies(session(1, 5_000));
    const signedIn = await run(both, "http://app.test/account/x", { cookies, headers: html });
    expect(signedIn.seen.calls).toBe(1);
    expect(signedIn.seen.token).toBe("at-2");
    expect(signedIn.response.headers.get("cache-control")).toBe("private, no-store");
    expect(redeemed).toEqual(["rt-1"]);
    const signedOut = await run(both, "http://app.test/account/x", { headers: html });
    expect(signedOut.seen.calls).toBe(0);
    expect(signedOut.response.status).toBe(302);
    expect([...first.events, ...second.events].map((event) => event.type)).toEqual(["rotated", "protected"]);
  });
});

describe("middleware: a site served under Astro's base", () => {
  const protect = { paths: ["/account/*", "/settings"] };
  const html = { accept: "text/html" };
  const createUnder = (base: string) => {
    const { middleware, events } = create(makeUpstream().upstream, { protect });
    // `base` is a runtime option (the integration's virtual module feeds it), not a config one.
    const based = createTokenkeepMiddleware(
      parseConfig({ upstream: makeUpstream().upstream, cookie: { secrets: [SECRET] }, protect }),
      { dev: false, base },
    );
    middlewares.push(based);
    return { plain: middleware, based, events };
  };

  it("matches the path below the base and redirects to the sign-in page under it", async () => {
    const { based } = createUnder("/app/");
    const denied = await run(based, "http://app.test/app/account/orders?page=2", { headers: html });
    expect(denied.seen.calls).toBe(0);
    expect(denied.response.status).toBe(302);
    expect(denied.response.headers.get("location")).toBe(
      "/app/login?returnTo=%2Fapp%2Faccount%2Forders%3Fpage%3D2",
    );
    for (const url of ["http://app.test/app/account", "http://app.test/app/settings/"]) {
      expect((await run(based, url, { headers: html })).response.status).toBe(302);
    }
    // Outside the protected paths, and outside the base (as written: protection never loosens).
    expect((await run(based, "http://app.test/app/", { headers: html })).seen.calls).toBe(1);
    expect((await run(based, "http://app.test/app/accounting", { headers: html })).seen.calls).toBe(1);
    expect((await run(based, "http://app.test/account", { headers: html })).response.status).toBe(302);
    const cookies = await sessionCookies(session(1, 600_000));
    const signedIn = await run(based, "http://app.test/app/account/x", { cookies, headers: html });
    expect(signedIn.seen.calls).toBe(1);
    expect(signedIn.response.headers.get("cache-control")).toBe("private, no-store");
  });

  it("refuses protect settings written with the base in them (they would leave the pages they name open)", () => {
    const under = (settings: { paths: string[]; signInPath?: string }) => () =>
      createTokenkeepMiddleware(
        parseConfig({ upstream: makeUpstream().upstream, cookie: { secrets: [SECRET] }, protect: settings }),
        { dev: false, base: "/app" },
      );
    expect(under({ paths: ["/settings", "/app/account/*"] })).toThrow(
      expect.objectContaining({
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        message:
          "invalid defineTokenkeepConfig options: protect.paths.1: /app/account/* includes Astro's base " +
          "(/app); write it without the base: /account/*",
      }),
    );
    expect(under({ paths: ["/app/*"], signInPath: "/sign-in" })).toThrow(
      /protect\.paths\.0: \/app\/\* includes/,
    );
    expect(under({ paths: ["/account/*"], signInPath: "/app/login" })).toThrow(
      /protect\.signInPath: \/app\/login includes Astro's base \(\/app\); write it without the base: \/login/,
    );
    // A path that merely starts with the base's letters is the site's own.
    expect(under({ paths: ["/application/*"] })).not.toThrow();
  });

  it("without a base nothing changes: /app/account is not /account", async () => {
    const { plain } = createUnder("");
    expect((await run(plain, "http://app.test/app/account", { headers: html })).seen.calls).toBe(1);
    expect((await run(plain, "http://app.test/account", { headers: html })).response.status).toBe(302);
  });
});

describe("middleware: the upstream is checked when the middleware is created", () => {
  it("a mistake in upstream.oauth throws at creation (the server's start), not at the first sign-in", () => {
    const build = (oauth: Record<string, unknown>) => () =>
      createTokenkeepMiddleware(parseConfig({ upstream: { oauth }, cookie: { secrets: [SECRET] } }), {
        dev: false,
      });
    expect(build({ issuer: "http://127.0.0.1:9/", clientID: "web", clientSecret: "s" })).toThrow(
      expect.objectContaining({
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        message: expect.stringMatching(/^upstream\.oauth: unknown option `clientID`/),
      }),
    );
    // An option only the sign-in's password grant takes is checked too.
    expect(build({ issuer: "http://127.0.0.1:9/", clientId: "web", clientSecret: "s", scope: 42 })).toThrow(
      expect.objectContaining({
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        message: expect.stringMatching(/upstream\.oauth\.scope: /),
      }),
    );
    // And the sign-out's revocation endpoint: refused now, not at each sign-out left unrevoked.
    expect(
      build({
        issuer: "http://127.0.0.1:9/",
        clientId: "web",
        clientSecret: "s",
        revocationUrl: "http://idp.example/revoke",
      }),
    ).toThrow(
      expect.objectContaining({
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        message: expect.stringMatching(/^upstream\.oauth\.revocationUrl: .*https/),
      }),
    );
  });

  it("building it sends nothing (discovery waits for the first token request)", async () => {
    let requests = 0;
    const fetch = async () => {
      requests++;
      return new Response("{}", { status: 500 });
    };
    const middleware = createTokenkeepMiddleware(
      parseConfig({
        upstream: {
          oauth: {
            issuer: "http://127.0.0.1:9/",
            clientId: "web",
            clientSecret: "s",
            fetch,
            introspection: true,
          },
        },
        cookie: { secrets: [SECRET] },
      }),
      { dev: false },
    );
    middlewares.push(middleware);
    await run(middleware, "http://app.test/");
    expect(requests).toBe(0);
  });

  it("login() throws only SignInError, and reports each failure as a sign-in-failure event", async () => {
    let requests = 0;
    // A server that quotes the request it refused, password included (grants redacts it).
    const fetch = async (_input: unknown, init?: RequestInit) => {
      requests++;
      const description = `refused: ${String(init?.body)}`;
      return Response.json({ error: "invalid_grant", error_description: description }, { status: 400 });
    };
    const events: TokenkeepEvent[] = [];
    const middleware = createTokenkeepMiddleware(
      parseConfig({
        upstream: {
          oauth: { tokenUrl: "http://127.0.0.1:9/token", clientId: "web", clientSecret: "web-secret", fetch },
        },
        cookie: { secrets: [SECRET] },
        onEvent: (event) => events.push(event),
      }),
      { dev: false },
    );
    middlewares.push(middleware);
    const failures: unknown[] = [];
    const context = makeContext("http://app.test/login") as APIContext;
    await middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      const attempts: Record<string, string>[] = [
        { username: "u", password: "" },
        {},
        { username: "u", password: "wrong-password" },
      ];
      for (const credentials of attempts) {
        await tokenkeep.login(credentials).catch((error: unknown) => failures.push(error));
      }
      return new Response("page");
    });
    expect(failures.map((error) => (error as { name: string; code: string }).code)).toEqual([
      "ERR_TOKENKEEP_SIGN_IN_REJECTED",
      "ERR_TOKENKEEP_SIGN_IN_REJECTED",
      "ERR_TOKENKEEP_SIGN_IN_REJECTED",
    ]);
    expect(failures.every((error) => (error as Error).name === "SignInError")).toBe(true);
    // Without a username or a password nothing is sent.
    expect(requests).toBe(1);
    expect(events.map((event) => [event.type, (event.error as { code?: string }).code])).toEqual([
      ["sign-in-failure", "ERR_TOKENKEEP_SIGN_IN_REJECTED"],
      ["sign-in-failure", "ERR_TOKENKEEP_SIGN_IN_REJECTED"],
      ["sign-in-failure", "ERR_TOKENKEEP_SIGN_IN_REJECTED"],
    ]);
    // As a logger prints an event, the cause chain included: the echo is there, the password not.
    const { inspect } = await import("node:util");
    const printed = inspect(events, { depth: 10 });
    expect(printed).toContain("refused: username=u&password=[redacted]&grant_type=password");
    expectNoSecretIn(printed, ["wrong-password"], "the sign-in-failure events, inspected");
  });

  it("login() with an upstream of functions: its signIn gets a signal, and one ignoring it is waited for 30 s at most (unavailable, a TimeoutError); tokens it returns later are revoked", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    onTestFinished(() => void vi.useRealTimers());
    const signals: (AbortSignal | undefined)[] = [];
    let finish: ((set: TokenSet) => void) | undefined;
    const revoked: string[] = [];
    const upstream: Upstream = {
      ...makeUpstream().upstream,
      // Ignores its signal: answers only when the test says so.
      signIn: (_credentials, { signal }) => {
        signals.push(signal);
        return new Promise<TokenSet>((resolve) => {
          finish = resolve;
        });
      },
      signOut: async ({ refreshToken }) => void revoked.push(refreshToken ?? ""),
    };
    const { middleware, events } = create(upstream);
    const context = makeContext("http://app.test/login") as APIContext;
    let failure: unknown;
    let settled = false;
    const request = middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      await tokenkeep
        .login({ username: "alice", password: "correct horse" })
        .catch((error: unknown) => {
          failure = error;
        })
        .finally(() => {
          settled = true;
        });
      return new Response("page");
    });
    await vi.advanceTimersByTimeAsync(29_999);
    expect(settled).toBe(false);
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await request;
    expect(signals[0]?.aborted).toBe(true);
    expect(isSignInError(failure) && failure.code).toBe("ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE");
    expect((failure as { cause: { name: string; timeoutMs: number } }).cause).toMatchObject({
      name: "TimeoutError",
      timeoutMs: 30_000,
    });
    expect(events.map((event) => event.type)).toEqual(["sign-in-failure"]);
    expect(setCookies(context)).toEqual([]);
    // The function answers after all: nobody holds those tokens, so they are revoked.
    vi.useRealTimers();
    finish?.({
      accessToken: "at-late",
      tokenType: "Bearer",
      expiresAt: clock.now + 300_000,
      refreshToken: "rt-late",
      raw: {},
    });
    await vi.waitFor(() => expect(revoked).toEqual(["rt-late"]));
  });

  it("login() with an upstream of functions whose signIn resolves to no token set after its 30 s: nothing to revoke, no unhandled rejection (which would end the process)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    onTestFinished(() => void vi.useRealTimers());
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    onTestFinished(() => void process.off("unhandledRejection", onUnhandled));
    let finish: ((set: unknown) => void) | undefined;
    const revoked: string[] = [];
    const upstream: Upstream = {
      ...makeUpstream().upstream,
      // Gives up once its signal aborted, resolving to nothing (a JavaScript upstream need not throw).
      signIn: () =>
        new Promise<TokenSet>((resolve) => {
          finish = resolve as (set: unknown) => void;
        }),
      signOut: async ({ refreshToken }) => void revoked.push(refreshToken ?? ""),
    };
    const { middleware } = create(upstream);
    const context = makeContext("http://app.test/login") as APIContext;
    let failure: unknown;
    const request = middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      failure = await tokenkeep
        .login({ username: "alice", password: "correct horse" })
        .catch((e: unknown) => e);
      return new Response("page");
    });
    await vi.advanceTimersByTimeAsync(30_000);
    await request;
    expect(isSignInError(failure) && failure.code).toBe("ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE");
    vi.useRealTimers();
    finish?.(undefined);
    // Long enough for an unhandled rejection to be reported (it is, after the microtasks ran).
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(unhandled).toEqual([]);
    expect(revoked).toEqual([]);
  });

  it("a custom upstream's error that quotes the credentials reaches neither the event nor the error", async () => {
    const upstream: Upstream = {
      ...makeUpstream().upstream,
      signIn: async (credentials) => {
        throw new TypeError(`cannot sign in with ${JSON.stringify(credentials)}`);
      },
    };
    const { middleware, events } = create(upstream);
    const context = makeContext("http://app.test/login") as APIContext;
    let failure: unknown;
    await middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      // A short password is a secret too.
      await tokenkeep.login({ username: "alice-user", password: "Zq9" }).catch((error: unknown) => {
        failure = error;
      });
      return new Response("page");
    });
    const { inspect } = await import("node:util");
    const printed = inspect({ events, failure }, { depth: 10 });
    expect(printed).toContain('cannot sign in with {"username":"[redacted]","password":"[redacted]"}');
    expectNoSecretIn(printed, ["Zq9", "alice-user"], "the sign-in-failure event and error, inspected");
    expect((failure as { cause?: { name?: string } }).cause?.name).toBe("TypeError");
  });

  /** Signs in on a request whose Astro session driver fails on every write: what login() threw. */
  async function loginWithUnstorableSession(upstream: Upstream) {
    const { middleware, events } = create(upstream, { storage: "session" });
    const context = makeContext("http://app.test/login") as APIContext;
    const driverDown = () => {
      throw new Error("driver down");
    };
    Object.defineProperty(context, "session", {
      value: {
        get: async () => undefined,
        set: driverDown,
        regenerate: async () => driverDown(),
        destroy: () => {},
      },
    });
    let failure: unknown;
    await middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      await tokenkeep.login({ username: "u", password: "p" }).catch((error: unknown) => {
        failure = error;
      });
      return new Response("page");
    });
    return { failure, events };
  }

  it("a session that cannot be stored is an unavailable sign-in, not a raw error; its tokens are revoked", async () => {
    const revoked: (string | undefined)[] = [];
    const { failure, events } = await loginWithUnstorableSession({
      ...signingInUpstream(),
      signOut: async ({ refreshToken }) => {
        revoked.push(refreshToken);
      },
    });
    expect(failure).toMatchObject({ name: "SignInError", code: "ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE" });
    expect(events.map((event) => event.type)).toEqual(["sign-in-failure"]);
    expect(revoked).toEqual(["rt-1"]);
  });

  it("a session over cookie.maxBytes: login() fails as too large (not transient), naming the size, no cookie written, its tokens revoked", async () => {
    const revoked: (string | undefined)[] = [];
    const { middleware, events } = create({
      ...signingInUpstream({ [SESSION_PAYLOAD_KEY]: { blob: "p".repeat(16_000) } }),
      signOut: async ({ refreshToken }) => {
        revoked.push(refreshToken);
      },
    });
    const context = makeContext("http://app.test/login") as APIContext;
    let failure: unknown;
    await middleware(context, async () => {
      const { tokenkeep } = context.locals as { tokenkeep: TokenkeepLocals };
      failure = await tokenkeep.login({ username: "u", password: "p" }).catch((error: unknown) => error);
      expect(tokenkeep.signedIn).toBe(false);
      return new Response("page");
    });
    expect(failure).toMatchObject({
      name: "SignInError",
      code: "ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE",
      transient: false,
    });
    expect(isSignInError(failure)).toBe(true);
    const cause = (failure as { cause: unknown }).cause;
    expect(isSessionTooLarge(cause)).toBe(true);
    if (!isSessionTooLarge(cause)) return;
    expect(cause).toBeInstanceOf(SessionTooLargeError);
    expect(cause.maxBytes).toBe(7_600);
    expect(cause.bytes).toBeGreaterThan(7_600);
    expect(cause.message).toMatch(/the sealed session is \d+ bytes, over cookie\.maxBytes \(7600\)/);
    expect(cause.message).toContain('storage: "session"');
    expect(setCookies(context)).toEqual([]);
    expect(revoked).toEqual(["rt-1"]);
    expect(events.map((event) => event.type)).toEqual(["sign-in-failure"]);
  });

  it("a rotation whose new session is over cookie.maxBytes: never written, cookies cleared, signed out, reported, new tokens revoked", async () => {
    const revoked: (string | undefined)[] = [];
    const base = makeUpstream().upstream;
    const { middleware, events } = create({
      ...base,
      refresh: async (context) => {
        const set = await base.refresh(context);
        return { ...set, raw: { [SESSION_PAYLOAD_KEY]: { blob: "p".repeat(16_000) } } };
      },
      signOut: async ({ refreshToken }) => {
        revoked.push(refreshToken);
      },
    });
    const cookies = await sessionCookies(session(1, 5_000));
    const { locals, setCookie, response } = await run(middleware, "http://app.test/", { cookies });
    expect(locals?.signedIn).toBe(false);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^tokenkeep=deleted;/);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    expect(revoked).toEqual(["rt-2"]);
    expect(events).toMatchObject([
      { type: "refresh-failure", permanent: true, error: { code: "ERR_TOKENKEEP_SESSION_TOO_LARGE" } },
    ]);
    expect(middleware.stats().refreshFailures).toBe(1);
  });

  it("a sign-out that throws at once while revoking an unstored session still ends in a SignInError", async () => {
    const { failure, events } = await loginWithUnstorableSession({
      ...signingInUpstream(),
      signOut: () => {
        throw new Error("sync boom");
      },
    });
    expect(failure).toMatchObject({ name: "SignInError", code: "ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE" });
    expect(events.map((event) => event.type)).toEqual(["sign-in-failure"]);
  });
});
