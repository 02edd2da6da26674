import type { PatJwtClaims } from "@tokenkeep/pat-protocol";
import type { JSONWebKeySet } from "jose";
import { STORE_UNAVAILABLE_RETRY_AFTER_SECONDS } from "./defaults";
import { type PatErrorState, type PatHandlerOptions, patHandlerOptionsSchema } from "./handler-options";
import { handleAdmin } from "./internal/admin-routes";
import { type AccessRequirement, authenticateCaller } from "./internal/authenticate";
import { handleExchange } from "./internal/exchange-route";
import type { HandlerContext } from "./internal/handler-context";
import { errorResponse, HttpError, jsonResponse } from "./internal/http";
import { createJwtKeys, type JwtKeys } from "./internal/jwt-keys";
import { parseOptions } from "./internal/options";
import { createRateLimiter } from "./internal/rate-limiter";
import { createUsageRecorder } from "./internal/usage-recorder";
import { createVerifierCache } from "./internal/verifier-cache";
import { unmatchablePhc, verifySecret } from "./scrypt";
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
function errorState(error: unknown, request?: Request): PatErrorState {
  if (!request) return { error };
  const state = { error, method: request.method, path: new URL(request.url).pathname };
  return Object.defineProperty(state, "request", { value: request, enumerable: false });
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

function defaultOnError({ error }: { error: unknown }): void {
  const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
  console.error(`[tokenkeep/pat-server] ${name}: ${message}`);
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
      onError: (error) => onError(errorState(error)),
    }),
    nowSeconds: () => Math.floor(resolved.now() / 1000),
  };

  async function route(request: Request, context: RequestContext): Promise<Response> {
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
        onError(errorState(error, request));
        return jsonResponse(503, { status: "unavailable" });
      }
      return jsonResponse(200, { status: "ok" });
    }
    throw new HttpError(404, "Not found");
  }

  const handler = async (request: Request, context: RequestContext = {}): Promise<Response> => {
    try {
      return await route(request, context);
    } catch (error) {
      if (error instanceof HttpError) return errorResponse(error);
      onError(errorState(error, request));
      if (isPatStoreUnavailableError(error)) return errorResponse(storeUnavailable());
      return errorResponse(new HttpError(500, "Internal server error"));
    }
  };

  return Object.assign(handler, {
    async authenticate(request: Request, requirement: AccessRequirement = {}): Promise<PatAuthResult> {
      try {
        return { ok: true, claims: await authenticateCaller(ctx, request, requirement) };
      } catch (error) {
        if (error instanceof HttpError) return { ok: false, response: errorResponse(error) };
        if (!isPatStoreUnavailableError(error)) throw error;
        onError(errorState(error, request));
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
