import type { TokenIdentity } from "../token/token-creator.js";
import type { TokenSource } from "./http-auth.js";
import { authorizationHeader, type HttpAuthOptions, parseHttpAuthOptions } from "./http-auth.js";
import { rejectsToken } from "./token-rejection.js";

/** Options of {@link createAuthFetch}. */
export interface AuthFetchOptions<I extends TokenIdentity = TokenIdentity> extends HttpAuthOptions<I> {
  /**
   * The `fetch` that sends the requests.
   * @default globalThis.fetch (looked up on every call)
   */
  fetch?: typeof globalThis.fetch | undefined;
}

/** A `fetch`-compatible function that authorizes requests to the allowed origins. */
export type AuthFetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

function isRequest(input: unknown): input is Request {
  return typeof input === "object" && input !== null && "url" in input && "headers" in input;
}

function urlOf(input: RequestInfo | URL): URL | undefined {
  const text = isRequest(input) ? input.url : String(input);
  try {
    return new URL(text);
  } catch {
    // A relative URL, resolved as a browser's fetch does. Deno throws on `location` when it has none.
    try {
      return new URL(text, globalThis.location?.href);
    } catch {
      return undefined; // let fetch report the bad URL itself
    }
  }
}

/** Bodies `new Request` can read again: everything but streams and iterables. */
function isReplayableBody(body: BodyInit): boolean {
  return (
    typeof body === "string" ||
    body instanceof URLSearchParams ||
    body instanceof Blob ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof FormData !== "undefined" && body instanceof FormData)
  );
}

/**
 * A way to build the request once more for the replay after a 401, or `undefined` when its body
 * cannot be sent twice. Must run before the first request is built: that consumes a `Request` body.
 */
function replayer(input: RequestInfo | URL, init: RequestInit | undefined): (() => Request) | undefined {
  const body = init?.body;
  if (body !== undefined && body !== null) {
    return isReplayableBody(body) ? () => new Request(input, init) : undefined;
  }
  if (isRequest(input) && input.body !== null) {
    if (input.bodyUsed) return undefined;
    const copy = input.clone(); // buffers the body until the replay or garbage collection
    return () => new Request(copy, init);
  }
  return () => new Request(input, init);
}

/**
 * Wraps `fetch` so requests to the allowed origins carry the manager's token:
 *
 * - `Authorization: <tokenType> <accessToken>` is added only when the request URL's origin is in
 *   `origins` (or the predicate accepts it) and the request has no `Authorization` header of its
 *   own. Every other request is passed to `fetch` untouched.
 *   A token holding a line break or NUL fails the call with `InvalidResponseError` before anything
 *   is sent (the runtime's `TypeError` would quote the header, token included).
 * - On a 401 it invalidates exactly the token it sent (`manager.invalidate`), so a burst of 401s
 *   causes one refresh (a sequence, at most one per the manager's `unauthorizedCooldownMs`), and
 *   replays the request once with the new token, when the body can be sent again (none, a string,
 *   `URLSearchParams`, `FormData`, a `Blob`, an `ArrayBuffer` or a view, or a `Request`, whose body
 *   is kept by `clone()`); a `ReadableStream` body is sent once and its 401 returned. The 401 is
 *   returned as is when the manager hands out the same token again.
 * - Redirects: the runtime's `fetch` follows them and, per the Fetch standard, drops
 *   `Authorization` when a redirect leaves the origin (Node, Deno and browsers do). A 401 from
 *   another origin after a redirect does not invalidate the token. Where a runtime does not drop the
 *   header, pass `redirect: "manual"` or `"error"` for requests that may be redirected elsewhere.
 * - The request's `signal` also abandons the wait for a token. Errors of `getToken` reject the call,
 *   including when no new token can be had after a 401.
 *
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) when `origins` is missing or invalid.
 *
 * @example
 * ```ts
 * const authFetch = createAuthFetch(manager, { origins: ["https://api.example.com"] });
 * const response = await authFetch("https://api.example.com/v1/items");
 * ```
 */
export function createAuthFetch<I extends TokenIdentity = TokenIdentity>(
  manager: TokenSource<I>,
  options: AuthFetchOptions<I>,
): AuthFetch {
  const { allowed, identity, fetch } = parseHttpAuthOptions(options, "createAuthFetch");

  return async (input, init) => {
    const url = urlOf(input);
    if (url === undefined || !allowed(url)) return fetch(input, init);
    const replay = replayer(input, init);
    const request = new Request(input, init);
    if (request.headers.has("authorization")) return fetch(request);
    const { signal } = request;

    const sent = await manager.getToken({ identity, signal });
    request.headers.set("authorization", authorizationHeader(sent));
    const response = await fetch(request);
    if (!rejectsToken(response, url, sent.tokenType)) return response;

    await manager.invalidate(sent, { identity });
    if (replay === undefined) return response;
    const discard = () => response.body?.cancel().catch(() => {});
    const fresh = await manager.getToken({ identity, signal }).catch(async (error: unknown) => {
      await discard(); // the token error explains the 401 better than its body
      throw error;
    });
    if (fresh.accessToken === sent.accessToken) return response;
    await discard();
    const retry = replay();
    retry.headers.set("authorization", authorizationHeader(fresh));
    return fetch(retry);
  };
}
