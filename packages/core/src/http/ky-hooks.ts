import { setRecent } from "../internal/lru.js";
import type { TokenIdentity } from "../token/token-creator.js";
import type { TokenSet } from "../token/token-set.js";
import type { TokenSource } from "./http-auth.js";
import { authorizationHeader, type HttpAuthOptions, parseHttpAuthOptions } from "./http-auth.js";
import { rejectsToken } from "./token-rejection.js";

/** Options of {@link createKyHooks}. */
export interface KyHooksOptions<I extends TokenIdentity = TokenIdentity> extends HttpAuthOptions<I> {
  /**
   * The `fetch` that sends the replay after a 401 (ky does not show its own `fetch` option to
   * hooks): pass the one you gave ky, if any.
   * @default globalThis.fetch (looked up on every call)
   */
  fetch?: typeof globalThis.fetch | undefined;
}

/** What ky passes to a `beforeRequest` hook (the part these hooks read). */
export interface KyBeforeRequestState {
  /** The request about to be sent; the hook sets its `Authorization` header. */
  readonly request: Request;
}

/** What ky passes to an `afterResponse` hook (the part these hooks read). */
export interface KyAfterResponseState {
  /** The request that was sent (its `Authorization` header tells whether it carried our token). */
  readonly request: Request;
  /** Its answer; a 401 triggers the invalidation and the replay. */
  readonly response: Response;
}

/** ky hooks, typed structurally (ky is not a dependency of core); pass them to `ky.create({ hooks })`. */
export interface KyHooks {
  /** Adds `Authorization` to requests for the allowed origins. */
  beforeRequest: Array<(state: KyBeforeRequestState) => Promise<void>>;
  /** On a 401 to one of our tokens: invalidates it and replays the request once with a new one. */
  afterResponse: Array<(state: KyAfterResponseState) => Promise<Response | undefined>>;
}

/** How many recently sent `Authorization` values are remembered to recognise our own requests. */
const REMEMBERED = 8;

/**
 * ky hooks doing what {@link createAuthFetch} does, for a ky instance:
 *
 * - `beforeRequest` adds `Authorization: <tokenType> <accessToken>` to requests whose origin is
 *   allowed by `origins` and that have no `Authorization` of their own.
 * - `afterResponse`, on a 401 to a request that carried one of our tokens, invalidates exactly that
 *   token and replays the request once with the new one, when ky still holds an unread copy of the
 *   body (ky keeps one while its `retry.limit` is above 0; with `retry: 0` a request with a body is
 *   not replayed). The replay's answer goes through ky as usual (a second 401 becomes ky's
 *   `HTTPError`). No replay when the manager hands out the same token again.
 * - Redirects are followed by ky's `fetch`; see {@link createAuthFetch} for how `Authorization` is
 *   dropped when they leave the origin.
 *
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) when `origins` is missing or invalid.
 *
 * @example
 * ```ts
 * const api = ky.create({
 *   prefix: "https://api.example.com",
 *   hooks: createKyHooks(manager, { origins: ["https://api.example.com"] }),
 * });
 * ```
 */
export function createKyHooks<I extends TokenIdentity = TokenIdentity>(
  manager: TokenSource<I>,
  options: KyHooksOptions<I>,
): KyHooks {
  const { allowed, identity, fetch } = parseHttpAuthOptions(options, "createKyHooks");
  // Header values we set, so a 401 is only acted on for our own token: ky may hand the
  // afterResponse hook a clone of the request, so the header is what identifies it. Bounded.
  const sent = new Map<string, TokenSet>();
  const remember = (value: string, set: TokenSet) => setRecent(sent, value, set, REMEMBERED);

  return {
    beforeRequest: [
      async ({ request }) => {
        if (!allowed(new URL(request.url)) || request.headers.has("authorization")) return;
        const set = await manager.getToken({ identity, signal: request.signal });
        const value = authorizationHeader(set);
        remember(value, set);
        request.headers.set("authorization", value);
      },
    ],
    afterResponse: [
      async ({ request, response }) => {
        const url = new URL(request.url);
        if (response.status !== 401 || !allowed(url)) return undefined;
        const used = sent.get(request.headers.get("authorization") ?? "");
        // Not our token, or a 401 about something else than the token (see `rejectsToken`).
        if (used === undefined || !rejectsToken(response, url, used.tokenType)) return undefined;
        await manager.invalidate(used, { identity });
        if (request.bodyUsed) return undefined;
        const fresh = await manager.getToken({ identity, signal: request.signal });
        if (fresh.accessToken === used.accessToken) return undefined;
        const retry = new Request(request.clone()); // leaves ky its own copy for its retries
        const value = authorizationHeader(fresh);
        remember(value, fresh);
        retry.headers.set("authorization", value);
        return fetch(retry);
      },
    ],
  };
}
