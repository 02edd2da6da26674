/**
 * The request pipeline, created from a validated configuration (the `onRequest` of
 * `@tokenkeep/astro/middleware` feeds it the user's config module; tests feed it directly):
 *
 * 1. prerendered route (`isPrerendered`): signed-out locals, cookies and session untouched;
 * 2. a second registration of this middleware (added twice, or also in `src/middleware.ts`): passes;
 * 3. reads the session cookie (chunks joined, unsealed);
 * 4. inside the refresh window: rotates through core's coordinator *before* `next()`, so the new
 *    cookies are set while headers can still be sent; failures are handled as `rotation.ts` says;
 * 5. sets `locals.tokenkeep`, applies route protection, and runs the rest of the chain inside the
 *    request's `AsyncLocalStorage` context.
 *
 * A `Set-Cookie` is sent only when the session changed (rotated, or cleared because it is dead or
 * unreadable); an anonymous page and a session that needs no rotation get none.
 */
import type { APIContext, MiddlewareHandler } from "astro";
import {
  type ResolvedConfig,
  secretsFromEnvironment,
  splitSecrets,
  type Upstream,
} from "../config/schema.js";
import { type CookieSealer, createCookieSealer, createPlainSealer, withUnsealCache } from "../cookie-seal.js";
import { DEFAULT_SECRET_ENV, UNSEAL_CACHE_ENTRIES } from "../defaults.js";
import { createStats, type TokenkeepEvent, type TokenkeepEventType, type TokenkeepStats } from "../events.js";
import { createLocals } from "../locals.js";
import { requestStorage } from "../request-context.js";
import { createSessionRotation, type SessionRotation } from "../rotation.js";
import { denyAccess, isProtected } from "../route-protection.js";
import { type Session, sessionToTokenSet, tokenSetToSession } from "../session.js";
import { astroSessionStorage, cookieStorage, type SessionStorage } from "../session-storage.js";
import { resolveUpstream } from "../upstream/index.js";

/** How the middleware runs. */
export interface MiddlewareRuntimeOptions {
  /** `true` under `astro dev`: a missing secret is a warning (once), not a refusal. */
  readonly dev: boolean;
  /** Where the development warning goes. @default console.warn */
  readonly warn?: ((message: string) => void) | undefined;
}

/** The middleware plus its counters. */
export interface TokenkeepMiddleware extends MiddlewareHandler {
  /** Counters since this middleware was created. */
  stats(): TokenkeepStats;
  /** Stops the rotation coordinator (tests; a server simply exits). */
  dispose(): Promise<void>;
}

const HANDLED = Symbol.for("tokenkeep.astro.handled");
const WARNED = Symbol.for("tokenkeep.astro.warned-unsealed");
const ACTIVE = Symbol.for("tokenkeep.astro.active-middleware");

type Flags = { [HANDLED]?: WeakSet<object>; [WARNED]?: boolean; [ACTIVE]?: TokenkeepMiddleware };
const flags = globalThis as Flags;

/** The error a production server answers with when no cookie secret is configured. */
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

/** The middleware that most recently started in this process (for `stats()` of `@tokenkeep/astro/server`). */
export function activeMiddleware(): TokenkeepMiddleware | undefined {
  return flags[ACTIVE];
}

/**
 * The middleware of the build's prerender step: pages rendered at build time get signed-out locals
 * and nothing else (no cookie, no configuration, no upstream).
 */
export const prerenderMiddleware: MiddlewareHandler = (context, next) => {
  (context.locals as { tokenkeep?: unknown }).tokenkeep = createLocals(undefined, Date.now);
  return next();
};

/**
 * How long before expiry a session is rotated: `refreshWindowMs`, but at most half the tokens'
 * lifetime when it is known, so tokens shorter-lived than the window are not rotated on every request.
 */
export function refreshWindow(session: Session, refreshWindowMs: number): number {
  if (session.issuedAt === undefined) return refreshWindowMs;
  return Math.min(refreshWindowMs, Math.max(0, (session.expiresAt - session.issuedAt) / 2));
}

/** Creates the middleware for a validated configuration. */
export function createTokenkeepMiddleware(
  config: ResolvedConfig,
  runtime: MiddlewareRuntimeOptions,
): TokenkeepMiddleware {
  const now = config.now ?? (() => Date.now());
  const counters = createStats();
  const settings = { name: config.cookie.name, domain: config.cookie.domain, maxAgeS: config.cookie.maxAgeS };
  // Built on the first on-demand request: loading the module does no work and reads no secret, and
  // the upstream (grants' creators, discovery) is built only once a session needs rotating.
  let sealer: CookieSealer | undefined;
  let upstream: Upstream | undefined;
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
    const secrets =
      config.cookie.secrets === undefined ? secretsFromEnvironment() : splitSecrets(config.cookie.secrets);
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
    return sealer;
  };

  const getRotation = (): SessionRotation => {
    upstream ??= resolveUpstream(config.upstream);
    rotation ??= createSessionRotation({
      upstream,
      store: config.store,
      successorTtlMs: config.successorTtlMs,
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

  /** The session after rotating it when due, and whether the cookies must change. */
  const refreshIfDue = async (
    storage: SessionStorage,
    session: Session,
    path: string,
  ): Promise<Session | undefined> => {
    if (session.expiresAt - now() > refreshWindow(session, config.refreshWindowMs)) return session;
    if (session.refreshToken === undefined) return now() < session.expiresAt ? session : undefined;
    const outcome = await getRotation().rotate(sessionToTokenSet(session), config.rotationTimeoutMs);
    switch (outcome.kind) {
      case "rotated": {
        const next = tokenSetToSession(outcome.set, now(), session);
        await storage.write(next);
        emit("rotated", path);
        return next;
      }
      case "rejected":
        counters.refreshFailures++;
        storage.clear();
        emit("refresh-failure", path, { permanent: true, error: outcome.error });
        return undefined;
      case "late":
        counters.lateRequests++;
        emit("late-request", path, { error: outcome.error });
        return undefined;
      case "transient":
        counters.refreshFailures++;
        emit("refresh-failure", path, { permanent: false, error: outcome.error });
        return now() < session.expiresAt ? session : undefined;
    }
  };

  const handler = async (context: APIContext, next: Parameters<MiddlewareHandler>[1]) => {
    if (context.isPrerendered) {
      // Rendered at build time: cookies set here would be dropped silently (and sent by the dev
      // server only). Signed out, without reading or writing anything.
      (context.locals as { tokenkeep?: unknown }).tokenkeep = createLocals(undefined, now);
      return next();
    }
    flags[HANDLED] ??= new WeakSet();
    const handled = flags[HANDLED];
    if (handled.has(context.locals)) return next();
    handled.add(context.locals);

    const path = context.url.pathname;
    const sealer = getSealer();
    const storage =
      config.storage === "session"
        ? astroSessionStorage(context, sealer)
        : cookieStorage({
            jar: context.cookies,
            secure: context.url.protocol === "https:",
            settings,
            sealer,
            now,
          });
    const stored = await storage.read();
    // Tampered with, sealed with a retired key, or from an older format: it can never be read.
    if (stored.unreadable) storage.clear();
    let session = stored.session;
    if (session !== undefined) session = await refreshIfDue(storage, session, path);

    const locals = createLocals(session, now);
    (context.locals as { tokenkeep?: unknown }).tokenkeep = locals;

    if (config.protect !== undefined && session === undefined && isProtected(path, config.protect.paths)) {
      emit("protected", path);
      return denyAccess(context.request, context.url, config.protect);
    }
    return requestStorage().run({ locals }, () => next());
  };

  const middleware = Object.assign(handler, {
    stats: (): TokenkeepStats => ({ ...counters }),
    dispose: async () => {
      await rotation?.dispose();
    },
  }) as TokenkeepMiddleware;
  flags[ACTIVE] = middleware;
  return middleware;
}
