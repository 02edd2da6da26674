/**
 * The request pipeline, created from a validated configuration (the `onRequest` of
 * `@tokenkeep/astro/middleware` feeds it the user's config module; tests feed it directly):
 *
 * 1. prerendered route (`isPrerendered`): signed-out locals, cookies and session untouched;
 * 2. re-entry with the request's state already on the locals (a second registration of this
 *    middleware, added twice or also in `src/middleware.ts`; or `Astro.rewrite()`, which runs the
 *    middleware again with the same locals for another path): route protection for the current path,
 *    against the request's current session, and nothing else (no cookie read, no rotation);
 * 3. reads the session cookie (chunks joined, unsealed);
 * 4. inside the refresh window: rotates through core's coordinator *before* `next()`, so the new
 *    cookies are set while headers can still be sent; failures are handled as `rotation.ts` says;
 * 5. sets `locals.tokenkeep`, applies route protection, and runs the rest of the chain inside the
 *    request's `AsyncLocalStorage` context.
 *
 * Paths are matched below the site's `base` (Astro's option, handed over by the integration), and the
 * sign-in redirect points under it.
 *
 * A `Set-Cookie` is sent only when the session changed (rotated, or cleared because it is dead or
 * unreadable); an anonymous page and a session that needs no rotation get none.
 */

import { isOAuthError, isTokenSet, TimeoutError, type TokenSet } from "@tokenkeep/core";
import { INVALID_OPTIONS_CODE } from "@tokenkeep/core/options";
import type { APIContext, MiddlewareHandler } from "astro";
import { type ApiClient, type ApiSession, bindApiClient, createApiTransport } from "../api/client.js";
import { ApiError, SessionExpiredError } from "../api/errors.js";
import { baseInProtect, normalizeBase, pathBelowBase, underBase } from "../base-path.js";
import {
  type ResolvedConfig,
  secretsFromEnvironment,
  splitSecrets,
  type Upstream,
} from "../config/schema.js";
import { type CookieSealer, createCookieSealer, createPlainSealer, withUnsealCache } from "../cookie-seal.js";
import {
  DEFAULT_SECRET_ENV,
  DEFAULT_SIGN_IN_TIMEOUT_MS,
  SESSION_RETRY_ROUND_TRIP_MS,
  SESSION_UNAVAILABLE_RETRY_S,
  UNSEAL_CACHE_ENTRIES,
} from "../defaults.js";
import { createStats, type TokenkeepEvent, type TokenkeepEventType, type TokenkeepStats } from "../events.js";
import { armLimit } from "../internal/time-limit.js";
import {
  createLocals,
  isOwnLocals,
  type LocalsSource,
  type SignInResult,
  type SignOutResult,
  type TokenkeepLocals,
  updateLocals,
} from "../locals.js";
import { currentRequest, requestStorage } from "../request-context.js";
import { createSessionRotation, type SessionRotation } from "../rotation.js";
import { denyAccess, isProtected, requiresSession } from "../route-protection.js";
import { type Session, sessionToTokenSet, tokenSetToSession } from "../session.js";
import { createSessionCache, type SessionCache } from "../session-cache.js";
import { isSessionTooLarge } from "../session-cookies.js";
import {
  astroSessionStorage,
  cookieStorage,
  type SessionStorage,
  type StoredSession,
} from "../session-storage.js";
import {
  credentialSecrets,
  redactedCause,
  SignInError,
  type SignInErrorCode,
  SignOutError,
} from "../sign-in-error.js";
import { resolveUpstream } from "../upstream/index.js";

/** How the middleware runs. */
export interface MiddlewareRuntimeOptions {
  /** `true` under `astro dev`: a missing secret is a warning (once), not a refusal. */
  readonly dev: boolean;
  /** Where the development warning goes. @default console.warn */
  readonly warn?: ((message: string) => void) | undefined;
  /**
   * The site's `base` (Astro's option, e.g. `"/app"`): `protect.paths` match the path below it and
   * `protect.signInPath` is redirected to under it.
   * @default "" (the site is served from the root)
   */
  readonly base?: string | undefined;
  /**
   * The routes the integration injected (its sign-in and sign-out endpoints), as the site's own
   * paths: `protect` settings under which one needs a session are refused (a signed-out visitor
   * could never post the sign-in form, nor a request signed out by a failed rotation sign out).
   * @default []
   */
  readonly routes?: readonly string[] | undefined;
}

/** The middleware plus its counters. */
export interface TokenkeepMiddleware extends MiddlewareHandler {
  /** The API client, for the session of whichever request calls it (`api` of `@tokenkeep/astro/server`). */
  readonly api: ApiClient;
  /** Counters since this middleware was created. */
  stats(): TokenkeepStats;
  /** Stops the rotation coordinator (tests; a server simply exits). */
  dispose(): Promise<void>;
}

const WARNED = Symbol.for("tokenkeep.astro.warned-unsealed");
const ACTIVE = Symbol.for("tokenkeep.astro.active-middleware");

type Flags = { [WARNED]?: boolean; [ACTIVE]?: TokenkeepMiddleware };
const flags = globalThis as Flags;

/**
 * The error a production server refuses to start with (with `@astrojs/node`; with other adapters, to
 * handle a request) when no cookie secret is configured.
 */
export class MissingSecretError extends Error {
  override name = "MissingSecretError";
  readonly code = "ERR_TOKENKEEP_NO_COOKIE_SECRET";
  constructor() {
    super(
      `@tokenkeep/astro: no cookie secret. Set ${DEFAULT_SECRET_ENV} (at least 32 random characters, ` +
        "e.g. `openssl rand -base64 32`) or `cookie.secrets` in the tokenkeep config; sessions are never " +
        "stored unsealed outside `astro dev`.",
    );
  }
}

/** The cookie secrets of a configuration: `cookie.secrets`, else `TOKENKEEP_SECRET` (read when called). */
function configuredSecrets(config: ResolvedConfig): string[] {
  return config.cookie.secrets === undefined ? secretsFromEnvironment() : splitSecrets(config.cookie.secrets);
}

/**
 * The production server's start-up check (`astro dev` only warns): throws {@link MissingSecretError}
 * unless the configuration has a cookie secret, and a `TypeError` when one is shorter than 32
 * characters (the sealer's own check, run now rather than on the first request).
 */
export function assertCookieSecret(config: ResolvedConfig): void {
  const secrets = configuredSecrets(config);
  if (secrets.length === 0) throw new MissingSecretError();
  createCookieSealer(secrets, config.cookie.name);
}

/**
 * The problems of protect settings that put one of the integration's injected routes behind a
 * session, each naming the pattern that covers it: the sign-in endpoint must take a signed-out
 * visitor's form, and the sign-out endpoint a request that a failed rotation signed out (it still
 * revokes what the browser holds).
 */
function routesInProtect(
  protect: NonNullable<ResolvedConfig["protect"]>,
  routes: readonly string[],
): string[] {
  return routes.flatMap((route) => {
    if (!requiresSession(route, protect)) return [];
    const index = protect.paths.findIndex((pattern) => isProtected(route, [pattern]));
    return [
      `protect.paths.${index}: ${protect.paths[index]} covers ${route}, a route the integration injects (its routes option), which must be reachable without a session; add it to protect.exclude`,
    ];
  });
}

/** The middleware that most recently started in this process (for `stats()` of `@tokenkeep/astro/server`). */
export function activeMiddleware(): TokenkeepMiddleware | undefined {
  return flags[ACTIVE];
}

/**
 * The middleware of the build's prerender step: pages rendered at build time get signed-out locals
 * and nothing else (no cookie, no configuration, no upstream).
 */
export const prerenderMiddleware: MiddlewareHandler = (context, next) => {
  const bag = context.locals as { tokenkeep?: unknown; api?: unknown };
  bag.tokenkeep = createLocals(undefined);
  bag.api = prerenderApi;
  return next();
};

/** `locals.api` while the build prerenders: the configuration is not loaded then, so calls fail clearly. */
const prerenderApi: ApiClient = bindApiClient(
  () =>
    Promise.reject(
      new ApiError(
        "ERR_TOKENKEEP_API_NOT_READY",
        "@tokenkeep/astro: locals.api is not available while the build prerenders a page (the tokenkeep " +
          "config is not loaded then); call the API with fetch there, or render the page on demand",
      ),
    ),
  () => undefined,
);

/**
 * How long before expiry a session is rotated: `refreshWindowMs`, but at most half the tokens'
 * lifetime when it is known, so tokens shorter-lived than the window are not rotated on every request.
 */
export function refreshWindow(session: Session, refreshWindowMs: number): number {
  if (session.issuedAt === undefined) return refreshWindowMs;
  return Math.min(refreshWindowMs, Math.max(0, (session.expiresAt - session.issuedAt) / 2));
}

/**
 * `response`, ready for the headers that still have to go on it: `Cache-Control: private, no-store`
 * when `noStore`, and the `Set-Cookie` headers Astro appends after the middleware chain returns (it
 * does so for any cookie set in this request: ours, the page's, Astro's session id). A response
 * whose headers are immutable (`Response.redirect()`, one returned from `fetch()`) would make that
 * append throw (a 500, the cookies lost): it is replaced by a copy with the same status, headers
 * (`Location` included) and body stream, which Astro then writes to. Other responses are returned
 * as they are.
 */
function outgoing(response: Response, cookies: APIContext["cookies"], noStore: boolean): Response {
  const cookiesPending = cookies.headers().next().done !== true;
  if (!noStore && !cookiesPending) return response;
  let ready = response;
  try {
    // Throws on immutable headers (without changing them): the probe for a copy.
    response.headers.delete("x-tokenkeep-probe");
  } catch {
    ready = new Response(response.body, response);
  }
  if (noStore) ready.headers.set("cache-control", "private, no-store");
  return ready;
}

/**
 * Where Astro (6.4 and 7.4) keeps a request's state on its context: a global symbol of Astro's, not
 * a documented API. No documented field follows the last middleware's rewrite (`context.url`,
 * `routePattern` and `originPathname` stay those of the request as it entered the chain).
 */
const FETCH_STATE = Symbol.for("astro.fetchState");

/**
 * The path a request was rendered for, once the chain returned: a rewrite by `next("/path")` in a
 * middleware followed by others replaces `context.url`; one by the last middleware moves only
 * Astro's request state (its `url`), which this middleware's context does not follow. `path` when
 * neither moved. Astro's state is read as best effort: when a later Astro changes it, only that
 * check is lost (the fixture site's test of it fails), never the request.
 */
function renderedPath(context: APIContext, path: string): string {
  const { pathname } = context.url;
  if (pathname !== path) return pathname;
  try {
    const state = (context as unknown as Record<symbol, { readonly url?: unknown } | undefined>)[FETCH_STATE];
    const url = state?.url;
    return url instanceof URL ? url.pathname : path;
  } catch {
    return path;
  }
}

/** What a rotation leaves the request. */
interface Rotated {
  /** The request's session; `undefined` when it is signed out. */
  readonly session: Session | undefined;
  /**
   * Signed out with a refresh token that may still be valid upstream (a transient failure, such as
   * an unavailable upstream or store, once the access token expired), or whose grant lives on in a
   * newer pair (a late request), or a rotated pair that could not be stored once its successor
   * window had closed: the session `logout()` revokes.
   */
  readonly unrevoked?: Session | undefined;
  /**
   * Storing the rotated session threw (not for its size; Astro's `session.set` does not call the
   * driver, which fails later, at Astro's persist, as Astro's 500): `session` is the new pair, which
   * the coordinator keeps answering as the old token's successor for `successorTtlMs`.
   */
  readonly unstored?: boolean | undefined;
}

/**
 * The answer to a request whose rotated session could not be stored: try again shortly. Nothing is
 * lost while the retry comes within the successor window: still holding the old pair, it is answered
 * the same new pair (the coordinator's successor) and stores it then.
 *
 * `Retry-After` is derived from that window, which ends `successorTtlMs` after the rotation was
 * answered (`windowLeftMs`, counted from the session's `issuedAt`: the coordinator opens the window
 * after that, so this is its earliest end). A retry after it is a late request, signed out for good,
 * so the value never points past it, and once the window has closed no 503 is answered at all (the
 * request is signed out as its retry would be: see `rotateNow`). Within it, the sooner the better:
 * what fails here is the sealing (Astro's `session.set` does not call the driver), whose recovery no
 * wait makes likelier, and each retry is cheap (a successor hit redeems nothing): 1 s, so a client
 * honouring it gets many tries, and 0 once less than that second plus a round trip is left.
 */
function sessionUnavailable(windowLeftMs: number): Response {
  const retryAfterS =
    windowLeftMs >= SESSION_UNAVAILABLE_RETRY_S * 1_000 + SESSION_RETRY_ROUND_TRIP_MS
      ? SESSION_UNAVAILABLE_RETRY_S
      : 0;
  return new Response(JSON.stringify({ error: "session_unavailable" }), {
    status: 503,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "retry-after": String(retryAfterS),
    },
  });
}

/**
 * `work`, bounded by `signal`: rejects with the signal's reason once it aborts, so an upstream
 * function that ignores the signal it was given (a custom `signOut`) cannot hold a sign-in or a
 * sign-out forever. The work itself goes on unobserved; its late outcome is dropped.
 */
function within<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** Ends `session` upstream within `timeoutMs` (a signal-ignoring `signOut` included): throws on failure or timeout. */
async function signOutWithin(upstream: Upstream, session: Session, timeoutMs: number): Promise<void> {
  if (upstream.signOut === undefined) return;
  // Its timer is cleared once the sign-out settled (see `armLimit`); the abort reason is the
  // runtime's `TimeoutError`, as `AbortSignal.timeout`'s.
  const limit = new AbortController();
  const timer = armLimit(limit, timeoutMs);
  const { signal } = limit;
  const { accessToken, refreshToken } = session;
  try {
    await within(upstream.signOut({ accessToken, refreshToken, signal }), signal);
  } finally {
    clearTimeout(timer);
  }
}

/** A request's storage, remembering whether this request wrote or cleared the session. */
class TrackedStorage implements SessionStorage {
  /** Whether the session was written or cleared. */
  changed = false;
  constructor(private readonly storage: SessionStorage) {}
  read(): StoredSession | Promise<StoredSession> {
    return this.storage.read();
  }
  write(session: Session): Promise<void> {
    this.changed = true;
    return this.storage.write(session);
  }
  clear(): void {
    this.changed = true;
    this.storage.clear();
  }
  async beginSession(): Promise<void> {
    await this.storage.beginSession?.();
  }
  endSession(): void {
    this.storage.endSession?.();
  }
}

/** Creates the middleware for a validated configuration. */
export function createTokenkeepMiddleware(
  config: ResolvedConfig,
  runtime: MiddlewareRuntimeOptions,
): TokenkeepMiddleware {
  const now = config.now ?? (() => Date.now());
  const counters = createStats();
  const settings = {
    name: config.cookie.name,
    domain: config.cookie.domain,
    maxAgeS: config.cookie.maxAgeS,
    maxBytes: config.cookie.maxBytes,
  };
  const base = normalizeBase(runtime.base);
  const written =
    config.protect === undefined
      ? []
      : [...baseInProtect(config.protect, base), ...routesInProtect(config.protect, runtime.routes ?? [])];
  if (written.length > 0) {
    throw Object.assign(new TypeError(`invalid defineTokenkeepConfig options: ${written.join("; ")}`), {
      code: INVALID_OPTIONS_CODE,
    });
  }
  // Patterns are the site's own paths; the redirect goes to the sign-in page under the base.
  const protect =
    config.protect === undefined
      ? undefined
      : { ...config.protect, signInPath: underBase(config.protect.signInPath, base) };
  // Built now, so a mistake in the upstream's options (grants checks `upstream.oauth` as it makes its
  // creators) stops the server as it loads this module, like a missing secret, rather than failing
  // the first sign-in or rotation. It does no I/O: discovery waits for the first token request.
  const upstream: Upstream = resolveUpstream(config.upstream);
  // Built on the first on-demand request: the sealer reads the secret then (the start-up check reads
  // it earlier with @astrojs/node), and the coordinator starts only once a session needs rotating.
  let sealer: CookieSealer | undefined;
  // Sessions decoded from this sealer's values, by value (a returning session skips unsealing).
  let sessions: SessionCache | undefined;
  let rotation: SessionRotation | undefined;

  const emit = (type: TokenkeepEventType, path: string, extra: Partial<TokenkeepEvent> = {}) => {
    if (config.onEvent === undefined) return;
    try {
      config.onEvent({ type, at: now(), path, ...extra });
    } catch {
      // A throwing hook must not break a request.
    }
  };

  const getSealer = (): CookieSealer => {
    if (sealer !== undefined) return sealer;
    const secrets = configuredSecrets(config);
    if (secrets.length > 0) {
      sealer = withUnsealCache(createCookieSealer(secrets, settings.name), UNSEAL_CACHE_ENTRIES);
    } else if (runtime.dev) {
      if (flags[WARNED] !== true) {
        flags[WARNED] = true;
        (runtime.warn ?? console.warn)(
          `@tokenkeep/astro: no cookie secret (${DEFAULT_SECRET_ENV}); the dev server stores sessions ` +
            "unsealed. A production server refuses to run without one.",
        );
      }
      sealer = createPlainSealer();
    } else {
      throw new MissingSecretError();
    }
    sessions = createSessionCache(UNSEAL_CACHE_ENTRIES);
    return sealer;
  };

  const getRotation = (): SessionRotation => {
    rotation ??= createSessionRotation({
      upstream,
      store: config.store,
      successorTtlMs: config.successorTtlMs,
      settleMs: config.rotationSettleMs,
      now,
      onRedeemed: () => {
        counters.rotations++;
      },
      onSuccessor: () => {
        counters.rotations++;
        counters.successorHits++;
      },
    });
    return rotation;
  };

  /** Revokes `session` upstream, best effort: for tokens issued for a session that could not be stored. */
  const revokeUnstored = async (session: Session): Promise<void> => {
    try {
      await signOutWithin(upstream, session, config.rotationTimeoutMs);
    } catch {
      // Best effort: the session ends either way.
    }
  };

  // An upstream of functions (neither `oauth` nor `endpoints`): its signIn has no bound of its own.
  const customUpstream = (upstream as unknown) === config.upstream;

  /**
   * The upstream's `signIn`. An upstream of functions gets a `signal` that aborts after
   * `DEFAULT_SIGN_IN_TIMEOUT_MS` (the built-in upstreams' own bound, which they keep), and is not
   * waited for past it even when it ignores the signal: the sign-in then fails as unavailable (a
   * `TimeoutError`), and a set it still returns later is revoked, best effort, since nobody holds it.
   */
  const signIn = async (credentials: Readonly<Record<string, string>>): Promise<TokenSet> => {
    if (!customUpstream) return upstream.signIn(credentials, {});
    const timeoutMs = DEFAULT_SIGN_IN_TIMEOUT_MS;
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          new TimeoutError(`the upstream's signIn took longer than ${timeoutMs} ms`, { timeoutMs }),
        ),
      timeoutMs,
    );
    let work: Promise<TokenSet> | undefined;
    try {
      work = upstream.signIn(credentials, { signal: controller.signal });
      return await within(work, controller.signal);
    } catch (error) {
      if (controller.signal.aborted) {
        // Only a token set holds tokens to revoke: anything else it resolves to (`undefined` from a
        // function that gave up) is dropped, not read, which would be an unhandled rejection.
        work?.then(
          (late) => (isTokenSet(late) ? revokeUnstored(tokenSetToSession(late, now())) : undefined),
          () => {},
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };

  /**
   * What is left of the successor window of a rotated `session`, in ms: it ends `successorTtlMs`
   * after the rotation was answered (`issuedAt`; the coordinator opens the window after that, so this
   * is its earliest end). Within it a request still holding the old pair is answered this one.
   */
  const successorWindowLeft = (session: Session): number =>
    (session.issuedAt ?? now()) + config.successorTtlMs - now();

  /**
   * Rotates `session` now (through the coordinator: once per refresh token) and stores the result;
   * what each failure means is `rotation.ts`'s table. `afterRejection`: the API answered 401 to
   * `session`'s access token, so the new session is marked as its replacement (see `renew`).
   */
  const rotateNow = async (
    storage: SessionStorage,
    session: Session,
    path: string,
    afterRejection = false,
  ): Promise<Rotated> => {
    if (session.refreshToken === undefined) {
      return { session: now() < session.expiresAt ? session : undefined };
    }
    const outcome = await getRotation().rotate(
      sessionToTokenSet(session),
      config.rotationTimeoutMs,
      afterRejection,
    );
    switch (outcome.kind) {
      case "rotated": {
        // Its times are the rotation's own (a successor hit may come up to successorTtlMs later), and
        // so is its mark: a pair a renewal after a 401 produced keeps it in every request that picks
        // it up (a request renewing after its own 401 marks the pair it gets either way).
        const received = tokenSetToSession(outcome.set, outcome.issuedAt, session);
        const next =
          afterRejection || outcome.replacedRejected ? { ...received, replacedRejected: true } : received;
        try {
          await storage.write(next);
        } catch (error) {
          if (!isSessionTooLarge(error)) {
            // The storage failed (sealing, say), not the session: the new pair is not thrown away.
            // It serves this request if it can, and stays the old token's successor, so the next
            // request, still holding the old pair, gets it and stores it again.
            counters.refreshFailures++;
            if (!afterRejection && successorWindowLeft(next) <= 0) {
              // Too late for that: the successor window has closed (the pair was picked up at its
              // very end, or the write took that long), so a retry would be a late request, signed
              // out. This request is handled as that retry would be: signed out, cookies untouched
              // (another request may have stored the pair), nothing redeemed again; a sign-out
              // revokes the new pair, which nobody may hold.
              emit("refresh-failure", path, { permanent: true, error });
              return { session: undefined, unrevoked: next };
            }
            emit("refresh-failure", path, { permanent: false, error });
            return { session: next, unstored: true };
          }
          // Never written (a cookie that large would lock the user out of the site): the session
          // ends here, its old cookies are cleared, and the new tokens, which nobody holds, revoked.
          counters.refreshFailures++;
          storage.clear();
          await revokeUnstored(next);
          emit("refresh-failure", path, { permanent: true, error });
          return { session: undefined };
        }
        emit("rotated", path);
        return { session: next };
      }
      case "rejected":
        counters.refreshFailures++;
        storage.clear();
        emit("refresh-failure", path, { permanent: true, error: outcome.error });
        return { session: undefined };
      case "late":
        counters.lateRequests++;
        emit("late-request", path, { error: outcome.error });
        // Past the successor window the newer pair is known nowhere here (the coordinator keeps no
        // token that long, on purpose), but a sign-out must still end what this request holds:
        // revoking its refresh token ends the whole grant, the newer pair included, at servers that
        // revoke a grant with any of its refresh tokens (oidc-provider does; RFC 7009 allows it).
        return { session: undefined, unrevoked: session };
      case "transient":
        counters.refreshFailures++;
        emit("refresh-failure", path, { permanent: false, error: outcome.error });
        // The refresh token is intact: signed out while the access token is expired, but a sign-out
        // must still revoke it (the cookies, kept, would otherwise stay usable).
        return now() < session.expiresAt ? { session } : { session: undefined, unrevoked: session };
    }
  };

  /**
   * Whether a 401 to `session`'s access token must renew nothing: its tokens replaced a pair the API
   * rejected less than `api.unauthorizedCooldownMs` ago (core's manager rule, per session: the mark
   * travels with the session, so it holds across requests and instances). When the replacement is
   * rejected too, a new pair will not help, and renewing on every request would rotate the refresh
   * token once per request.
   */
  const coolingDown = (session: Session): boolean =>
    session.replacedRejected === true && now() < (session.issuedAt ?? 0) + config.api.unauthorizedCooldownMs;

  /** Whether `session` is inside its refresh window (then it is rotated before the page renders). */
  const isDue = (session: Session): boolean =>
    session.expiresAt - now() <= refreshWindow(session, config.refreshWindowMs);

  let warnedInsecure = false;
  /**
   * Warns once when a session cookie was written without `Secure` to a request a proxy says came
   * over https: Astro honours `X-Forwarded-Proto` only from the hosts `security.allowedDomains`
   * lists, so behind an unlisted proxy every session cookie could travel over plain http.
   */
  const warnIfProxiedHttps = (url: URL, request: Request): void => {
    if (url.protocol !== "http:") return;
    const forwarded = request.headers.get("x-forwarded-proto") ?? "";
    if (!/^\s*https\s*(,|$)/i.test(forwarded)) return;
    warnedInsecure = true;
    (runtime.warn ?? console.warn)(
      "@tokenkeep/astro: a session cookie was set without Secure: Astro sees this request as http, but " +
        "X-Forwarded-Proto says https. List the proxy's host in security.allowedDomains (Astro config) so " +
        "Astro honours it; the cookie then gets Secure and the __Host- prefix.",
    );
  };

  const transport = createApiTransport(config.api);
  const api = bindApiClient(transport, () => currentRequest()?.api);

  /**
   * One request's session: read by the locals and the API client (it is both their source and the
   * client's `ApiSession`), renewed after a 401 while the response can still carry cookies, replaced
   * by `login`, ended by `logout`. One object per request, its methods shared.
   */
  class RequestState implements ApiSession, LocalsSource {
    readonly now = now;
    /** The API client's auth hooks for this request (see `ApiSession`). */
    authHooks: ApiSession["authHooks"] = undefined;
    /** The API client's auth hooks of calls with a limit of their own (see `ApiSession`). */
    limitedHooks: ApiSession["limitedHooks"] = undefined;
    private responseStarted = false;
    /** The renewal of each access token answered 401 (made on the first one). */
    private renewals: Map<string, Promise<Session | undefined>> | undefined;
    /** `locals.tokenkeep` of this request, whose fields follow every change of the session. */
    readonly locals: TokenkeepLocals;
    /** A path route protection checked when the middleware ran again for a rewrite (see `reenter`). */
    reentered: string | undefined = undefined;
    constructor(
      private readonly storage: SessionStorage,
      private state: Session | undefined,
      private readonly path: string,
      /** The stored session this request is signed out of while its refresh token lives (see {@link Rotated}). */
      private unrevoked: Session | undefined,
      /** The URL the browser asked for (before any rewrite): the sign-in redirect's `returnTo`. */
      readonly url: URL,
    ) {
      this.locals = createLocals(this, now);
    }

    /** Replaces the request's session, and the fields of its locals with it. */
    private replace(next: Session | undefined): void {
      this.state = next;
      updateLocals(this.locals, next);
    }

    current(): Session | undefined {
      return this.state;
    }

    session(): Session | undefined {
      return this.state;
    }

    /** From here a rotation's cookies could not reach the browser. */
    started(): void {
      this.responseStarted = true;
    }

    async renew(rejected: string): Promise<Session | undefined> {
      const session = this.state;
      if (session !== undefined && session.accessToken === rejected && coolingDown(session)) {
        // Refused: the same session, so the call is not replayed and fails with the 401.
        counters.invalidationsRefused++;
        return session;
      }
      // A token this request has already renewed (or a session already ended): the call replays with
      // what the request holds now, which rotates nothing and needs no cookie, even once it has started.
      if (session === undefined || session.accessToken !== rejected) return session;
      if (this.responseStarted) throw new SessionExpiredError({ reason: "response-started" });
      // Every call of this request that met the 401 waits for the one renewal.
      this.renewals ??= new Map();
      let renewal = this.renewals.get(rejected);
      if (renewal === undefined) {
        // A renewed pair that could not be stored still serves this request's calls (see rotateNow).
        renewal = rotateNow(this.storage, session, this.path, true).then(({ session: next, unrevoked }) => {
          this.replace(next);
          this.unrevoked = unrevoked;
          return next;
        });
        this.renewals.set(rejected, renewal);
      }
      return renewal;
    }

    async login(credentials: Readonly<Record<string, string>>): Promise<SignInResult> {
      if (this.responseStarted) throw new SignInError("ERR_TOKENKEEP_SIGN_IN_TOO_LATE");
      let next: Session;
      try {
        next = tokenSetToSession(await signIn(credentials), now());
      } catch (error) {
        const rejected = isOAuthError(error) && !error.transient;
        throw this.signInFailed(
          rejected ? "ERR_TOKENKEEP_SIGN_IN_REJECTED" : "ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE",
          redactedCause(error, credentialSecrets(credentials)),
        );
      }
      try {
        await this.storage.beginSession?.();
        await this.storage.write(next);
      } catch (error) {
        // The session could not be stored (Astro's session driver failed, or it is over
        // cookie.maxBytes): nothing was signed in, and the tokens just issued are revoked (best
        // effort) rather than left alive upstream.
        await revokeUnstored(next);
        // Over cookie.maxBytes, this user's sign-in fails the same way every time: not transient.
        const code = isSessionTooLarge(error)
          ? "ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE"
          : "ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE";
        throw this.signInFailed(code, error);
      }
      this.replace(next);
      emit("signed-in", this.path);
      return { signedIn: true, sessionPayload: next.sessionPayload, expiresAt: next.expiresAt };
    }

    /** The error `login()` throws for `cause`, reported first as a `sign-in-failure` event. */
    private signInFailed(code: SignInErrorCode, cause: unknown): SignInError {
      const error = new SignInError(code, { cause });
      emit("sign-in-failure", this.path, { error });
      return error;
    }

    async logout(): Promise<SignOutResult> {
      // Astro would drop the cookie deletion silently: refused before anything is done (as login()).
      if (this.responseStarted) throw new SignOutError("ERR_TOKENKEEP_SIGN_OUT_TOO_LATE");
      // Signed out by a rotation that failed for now, or late, the request still ends what it holds.
      const ending = this.state ?? this.unrevoked;
      this.unrevoked = undefined;
      this.replace(undefined);
      this.storage.clear();
      this.storage.endSession?.();
      if (ending === undefined) return { revoked: false };
      if (upstream.signOut === undefined) {
        emit("signed-out", this.path, { revoked: false });
        return { revoked: false };
      }
      try {
        await signOutWithin(upstream, ending, config.rotationTimeoutMs);
        emit("signed-out", this.path, { revoked: true });
        return { revoked: true };
      } catch (error) {
        emit("signed-out", this.path, { revoked: false, error });
        return { revoked: false, error };
      }
    }
  }

  /** Whether the request path (base included, as Astro gives it) needs a session. */
  const isGuarded = (pathname: string): boolean =>
    protect !== undefined && requiresSession(pathBelowBase(pathname, base), protect);

  /**
   * Re-entry: protection for the current path against the session the request has now (`locals`
   * follow it: a sign-out before a rewrite counts), without touching cookies or rotating again.
   */
  const reenter = async (
    context: APIContext,
    next: Parameters<MiddlewareHandler>[1],
    locals: TokenkeepLocals,
  ): Promise<Response> => {
    const path = context.url.pathname;
    if (!isGuarded(path) || protect === undefined) return next();
    // The request's state, when this copy of the middleware made these locals: the sign-in redirect
    // returns to the page the browser asked for, not to the path it was rewritten to.
    const current = currentRequest();
    const state = current?.locals === locals && current.api instanceof RequestState ? current.api : undefined;
    if (state !== undefined) state.reentered = path;
    if (!locals.signedIn) {
      emit("protected", path);
      return denyAccess(context.request, state?.url ?? context.url, protect);
    }
    return outgoing(await next(), context.cookies, true);
  };

  const handler = async (context: APIContext, next: Parameters<MiddlewareHandler>[1]) => {
    if (context.isPrerendered) {
      // Rendered at build time: cookies set here would be dropped silently (and sent by the dev
      // server only). Signed out, without reading or writing anything.
      (context.locals as { tokenkeep?: unknown }).tokenkeep = createLocals(undefined, now);
      (context.locals as { api?: unknown }).api = api;
      return next();
    }
    const own = (context.locals as { tokenkeep?: unknown }).tokenkeep;
    // The request's state is already on the locals: a second registration (inside the first one's
    // next()), or Astro.rewrite(), which runs the middleware again, for another path, with the same
    // locals. The session was read (and rotated) once; only the current path's protection is left.
    if (isOwnLocals(own)) return reenter(context, next, own as TokenkeepLocals);

    // What the browser asked for: a later middleware's rewrite replaces context.url and .request.
    const { url: requestUrl, request } = context;
    const path = requestUrl.pathname;
    const sealer = getSealer();
    const storage = new TrackedStorage(
      config.storage === "session"
        ? astroSessionStorage(context, sealer)
        : cookieStorage({
            jar: context.cookies,
            secure: context.url.protocol === "https:",
            settings,
            sealer,
            now,
            sessions,
          }),
    );
    // A returning session in the cookie is read without waiting (see session-cache.ts).
    const read = storage.read();
    const stored = read instanceof Promise ? await read : read;
    // Tampered with, sealed with a retired key, or from an older format: it can never be read.
    if (stored.unreadable) storage.clear();
    let session = stored.session;
    let unrevoked: Session | undefined;
    if (session !== undefined && isDue(session)) {
      let unstored: boolean | undefined;
      ({ session, unrevoked, unstored } = await rotateNow(storage, session, path));
      // Rendering the page would hide that the session was not stored; a retry gets the same pair.
      if (unstored === true && session !== undefined) {
        return sessionUnavailable(successorWindowLeft(session));
      }
    }

    const state = new RequestState(storage, session, path, unrevoked, requestUrl);
    const { locals } = state;
    const bag = context.locals as { tokenkeep?: unknown; api?: unknown };
    bag.tokenkeep = locals;
    bag.api = bindApiClient(transport, () => state);

    const guarded = isGuarded(path);
    if (guarded && session === undefined && protect !== undefined) {
      emit("protected", path);
      return denyAccess(request, requestUrl, protect);
    }
    const response = await requestStorage().run({ locals, api: state }, () => next());
    // From here a rotation's cookies could not reach the browser: a 401 that would need one is a
    // SessionExpiredError.
    state.started();
    // A later middleware's `next("/path")` rewrote the request without running this middleware
    // again: the page it rendered is protected here, against the session the request has now. Its
    // frontmatter (or endpoint) has run, signed out; its answer is discarded, never sent.
    let noStore = guarded;
    // Nothing to look up on a site without protection (the common request's path).
    const rendered = protect === undefined ? path : renderedPath(context, path);
    if (rendered !== path && rendered !== state.reentered && protect !== undefined && isGuarded(rendered)) {
      if (state.current() === undefined) {
        // Not awaited: a body's own cancel (an endpoint's stream) may take as long as it likes.
        response.body?.cancel().catch(() => {});
        emit("protected", rendered);
        return denyAccess(request, requestUrl, protect);
      }
      noStore = true;
    }
    // A protected page is never stored: after sign-out, the back button must not show it. Nor is
    // any page whose answer carries a changed session (a rotation on a public page): a shared cache
    // must never keep one user's session cookie for the next.
    if (storage.changed && !warnedInsecure && config.storage === "cookie")
      warnIfProxiedHttps(requestUrl, request);
    return outgoing(response, context.cookies, noStore || storage.changed);
  };

  const middleware = Object.assign(handler, {
    api,
    stats: (): TokenkeepStats => ({ ...counters }),
    dispose: async () => {
      await rotation?.dispose();
    },
  }) as TokenkeepMiddleware;
  flags[ACTIVE] = middleware;
  return middleware;
}
