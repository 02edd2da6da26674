import type { PatJwtClaims } from "@tokenkeep/pat-protocol";
import type { JSONWebKeySet } from "jose";
import { STORE_UNAVAILABLE_RETRY_AFTER_SECONDS } from "./defaults";
import {
  type PatErrorState,
  type PatHandlerOptions,
  type PatRecoveryState,
  patHandlerOptionsSchema,
} from "./handler-options";
import { handleAdmin } from "./internal/admin-routes";
import { type AccessRequirement, authenticateCaller } from "./internal/authenticate";
import { handleExchange } from "./internal/exchange-route";
import type { HandlerContext } from "./internal/handler-context";
import { errorResponse, HttpError, jsonResponse } from "./internal/http";
import { createJwtKeys, type JwtKeys } from "./internal/jwt-keys";
import { parseOptions } from "./internal/options";
import { createOutageReports, outageMs, tell } from "./internal/outage-reports";
import { createRateLimiter } from "./internal/rate-limiter";
import { createUsageRecorder } from "./internal/usage-recorder";
import { createVerifierCache } from "./internal/verifier-cache";
import { unmatchablePhc, verifySecret } from "./scrypt";
import type { PatStore } from "./store";
import { isPatStoreUnavailableError } from "./store-unavailable-error";

/** Per-request facts a host passes to the handler next to the `Request`. */
export interface RequestContext {
  /**
   * The client's address as the host saw it: the socket's remote address under `serve`, Astro's
   * `clientAddress`, `info.remoteAddr.hostname` in `Deno.serve`, `server.requestIP(request)` in Bun.
   */
  readonly clientAddress?: string | undefined;
}

/** Outcome of {@link PatHandler.authenticate}: the JWT's claims, or the error response to send. */
export type PatAuthResult =
  | { readonly ok: true; readonly claims: PatJwtClaims }
  | { readonly ok: false; readonly response: Response };

/** A Web-standard request handler serving the PAT protocol, plus what a host app needs around it. */
export interface PatHandler {
  /**
   * Handles one request. `context.clientAddress` is the rate limit key unless `getClientAddress` is
   * configured (`serve` passes the socket address; in Astro pass `{ clientAddress }`).
   */
  (request: Request, context?: RequestContext): Promise<Response>;
  /**
   * Route guard for the host app's own routes: checks `Authorization: Bearer <JWT>` issued by this
   * handler, and optionally the `admin` claim or a role (401/403 responses of the protocol's shape).
   * With `{ admin: true }` it is the admin routes' own check: under `recheckAdminTokens` (the default)
   * the JWT of a token revoked, expired or no longer admin since is refused as they refuse it. When the
   * store is unavailable during that check ({@link PatStoreUnavailableError}) the response is a 503 with
   * `Retry-After`, as the routes answer; it rejects only for another failure of the store.
   */
  authenticate(request: Request, requirement?: AccessRequirement): Promise<PatAuthResult>;
  /**
   * The public keys (JWKS document), also served at `jwksPath`. Rejects when the configured signing
   * keys do not import: await it at startup to fail early.
   */
  jwks(): Promise<JSONWebKeySet>;
  /** Writes pending `lastUsedAt` updates now. */
  flush(): Promise<void>;
  /** Flushes pending `lastUsedAt` updates and stops timers. Does not close the store. */
  close(): Promise<void>;
}

export type { AccessRequirement };

/** The state of `onError`; the request is non-enumerable, so logging the state cannot dump its secrets. */
function errorState(error: unknown, request?: Request, failures?: number): PatErrorState {
  const counted = failures === undefined ? {} : { failures };
  if (!request) return { error, ...counted };
  const state = { error, method: request.method, path: new URL(request.url).pathname, ...counted };
  return Object.defineProperty(state, "request", { value: request, enumerable: false });
}

/**
 * `store`, calling `answered` after each call of it that resolves. The proxy's target is an empty
 * object, not the store: a proxy must return a frozen target's own methods as they are, and a user's
 * store may be frozen.
 */
function observedStore(store: PatStore, answered: () => void): PatStore {
  return new Proxy({} as PatStore, {
    get(_, key) {
      const value: unknown = Reflect.get(store, key);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        const result: unknown = await value.apply(store, args);
        answered();
        return result;
      };
    },
  });
}

/**
 * The answer to a store that did not answer: 503 with `Retry-After`, so a client (and a load balancer)
 * retries later rather than taking a 500 for a defect of the server.
 */
function storeUnavailable(): HttpError {
  return new HttpError(503, "Service unavailable", {
    code: "ERR_STORE_UNAVAILABLE",
    headers: { "retry-after": String(STORE_UNAVAILABLE_RETRY_AFTER_SECONDS) },
  });
}

function defaultOnError({ error, failures }: PatErrorState): void {
  const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
  const count = failures === undefined || failures === 1 ? "" : ` (${failures} requests failed so far)`;
  console.error(`[tokenkeep/pat-server] ${name}: ${message}${count}`);
}

function defaultOnRecover({ failures, outageMs }: PatRecoveryState): void {
  const seconds = Math.round(outageMs / 1000);
  console.info(
    `[tokenkeep/pat-server] the store answers again after ${failures} failed request${failures === 1 ? "" : "s"} over ${seconds} s`,
  );
}

/**
 * Creates the PAT service as `(request: Request) => Promise<Response>`: the exchange
 * (`POST /auth/token`), the admin routes (`/admin/tokens...`), the JWKS document and a health route.
 * Mount it in `node:http` (see {@link serve}), an Astro API route, or anything speaking Request/Response.
 * Every failure answers the protocol's JSON error body (`Content-Type: application/json`, no parameters);
 * a store that does not answer ({@link PatStoreUnavailableError}) is a 503 with `Retry-After`, not a 500.
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for bad options.
 */
export function createPatHandler(options: PatHandlerOptions): PatHandler {
  const resolved = parseOptions(patHandlerOptionsSchema, options, "createPatHandler");
  const onError = resolved.onError ?? defaultOnError;
  const onRecover = resolved.onRecover ?? defaultOnRecover;
  // A store that does not answer fails every request: told per outage, as the guard tells a JWKS outage.
  const outages = createOutageReports<undefined>({
    intervalMs: resolved.errorReportIntervalMs,
    now: resolved.now,
  });
  /** Counts a request the store failed (a 503) in the outage, and reports it when the spacing allows. */
  const storeFailed = (error: unknown, request?: Request) => {
    const { outage, report } = outages.fail(() => undefined);
    if (report) onError(errorState(error, request, outage.failures));
  };
  /**
   * A background `lastUsedAt` write that failed: a store that does not answer is the same outage as
   * its 503s (reported on their spacing, not once per flush; no request, so not in `failures`); any
   * other failure is reported as it comes.
   */
  const usageWriteFailed = (error: unknown) => {
    if (!isPatStoreUnavailableError(error)) return onError(errorState(error));
    const { outage, report } = outages.fail(() => undefined, resolved.now(), false);
    if (report) onError(errorState(error, undefined, outage.failures));
  };
  let keysPromise: Promise<JwtKeys> | undefined;
  const keys = () => {
    keysPromise ??= createJwtKeys(resolved.signingKeys, resolved.issuer, resolved.jwtLifetimeSeconds);
    return keysPromise;
  };
  let pendingVerifications = 0;
  const ctx: HandlerContext = {
    options: resolved,
    store: resolved.store,
    keys,
    rateLimiter:
      resolved.rateLimit === false
        ? undefined
        : createRateLimiter({
            maxRequests: resolved.rateLimit.maxRequests,
            windowMs: resolved.rateLimit.windowMs,
            maxKeys: resolved.rateLimit.maxAddresses,
            now: resolved.now,
          }),
    verifySecret: async (secret, secretPhc) => {
      if (pendingVerifications >= resolved.maxPendingVerifications) {
        throw new HttpError(503, "Too many exchanges in progress", {
          code: "ERR_BUSY",
          headers: { "retry-after": "1" },
        });
      }
      pendingVerifications += 1;
      try {
        return await verifySecret(secret, secretPhc);
      } finally {
        pendingVerifications -= 1;
      }
    },
    unmatchablePhc: unmatchablePhc(resolved.scryptLog2Cost),
    verifierCache:
      resolved.verifierCache === false
        ? undefined
        : createVerifierCache({ ...resolved.verifierCache, now: resolved.now }),
    usage: createUsageRecorder({
      store: resolved.store,
      flushMs: resolved.lastUsedFlushMs,
      onError: usageWriteFailed,
    }),
    nowSeconds: () => Math.floor(resolved.now() / 1000),
  };

  /**
   * The context of one request: during an outage its store tells whether any call of it was answered,
   * so that `settled()`, called when the request failed on no store call, ends the outage (a request
   * that never reached the store, a 401 or a 404, proves nothing). Only the outage the request began
   * in: a store call answered before a later outage began says nothing of that one.
   */
  const watchStore = (): { ctx: HandlerContext; settled: () => void } => {
    const during = outages.current;
    if (!during) return { ctx, settled: () => {} };
    let answered = false;
    const store = observedStore(ctx.store, () => {
      answered = true;
    });
    const settled = () => {
      if (!answered || outages.current !== during) return;
      const ended = outages.end();
      if (!ended) return;
      // A listener that throws, or rejects, must not change the answer of the request that ended it.
      void tell(() => onRecover({ failures: ended.failures, outageMs: outageMs(ended, resolved.now()) }));
    };
    return { ctx: { ...ctx, store }, settled };
  };

  async function route(ctx: HandlerContext, request: Request, context: RequestContext): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === `${resolved.authPath}/token`) return handleExchange(ctx, request, context);
    if (pathname.startsWith(`${resolved.adminPath}/`)) {
      return handleAdmin(ctx, request, pathname.slice(resolved.adminPath.length));
    }
    if (pathname === resolved.jwksPath && request.method.toUpperCase() === "GET") {
      return jsonResponse(200, (await keys()).jwks, { "cache-control": "public, max-age=300" });
    }
    if (pathname === resolved.healthPath && request.method.toUpperCase() === "GET") {
      try {
        await ctx.store.ping();
      } catch (error) {
        if (isPatStoreUnavailableError(error)) storeFailed(error, request);
        else onError(errorState(error, request));
        return jsonResponse(503, { status: "unavailable" });
      }
      return jsonResponse(200, { status: "ok" });
    }
    throw new HttpError(404, "Not found");
  }

  const handler = async (request: Request, context: RequestContext = {}): Promise<Response> => {
    const watched = watchStore();
    try {
      const response = await route(watched.ctx, request, context);
      watched.settled();
      return response;
    } catch (error) {
      if (error instanceof HttpError) {
        watched.settled();
        return errorResponse(error);
      }
      if (isPatStoreUnavailableError(error)) {
        storeFailed(error, request);
        return errorResponse(storeUnavailable());
      }
      onError(errorState(error, request));
      return errorResponse(new HttpError(500, "Internal server error"));
    }
  };

  return Object.assign(handler, {
    async authenticate(request: Request, requirement: AccessRequirement = {}): Promise<PatAuthResult> {
      const watched = watchStore();
      try {
        const claims = await authenticateCaller(watched.ctx, request, requirement);
        watched.settled();
        return { ok: true, claims };
      } catch (error) {
        if (error instanceof HttpError) {
          watched.settled();
          return { ok: false, response: errorResponse(error) };
        }
        if (!isPatStoreUnavailableError(error)) throw error;
        storeFailed(error, request);
        return { ok: false, response: errorResponse(storeUnavailable()) };
      }
    },
    async jwks() {
      return (await keys()).jwks;
    },
    flush: () => ctx.usage.flush(),
    close: () => ctx.usage.close(),
  });
}
