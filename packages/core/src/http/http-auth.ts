/**
 * Which requests get a token: the origin policy and the token source shared by `createAuthFetch`
 * and `createKyHooks`.
 */

import { check, func, isObject, object, optional, validate } from "../options/rules.js";
import type { TokenIdentity } from "../token/token-creator.js";
import { invalidField } from "../token/token-response.js";
import { authorizationOf, type TokenSet } from "../token/token-set.js";

/**
 * The part of a token manager the HTTP integrations use (a `TokenManager` from `createTokenManager`
 * fits), typed structurally so any object with these two methods works.
 */
export interface TokenSource<I extends TokenIdentity = TokenIdentity> {
  /** A usable token set for the identity (see `TokenManager.getToken`). */
  getToken(options?: { identity?: I | undefined; signal?: AbortSignal | undefined }): Promise<TokenSet>;
  /** Drops the cached token if it is `token` (see `TokenManager.invalidate`). */
  invalidate(token: string | TokenSet, options?: { identity?: I | undefined }): Promise<boolean>;
}

/** Which requests receive the token. */
export interface HttpAuthOptions<I extends TokenIdentity = TokenIdentity> {
  /**
   * Required. The origins (`https://api.example.com`, no path) that receive the `Authorization`
   * header, or a predicate deciding per request URL. Every other request goes out untouched, so a
   * token never leaks to a third party.
   */
  origins: readonly string[] | ((url: URL) => boolean);
  /**
   * The identity passed to `getToken` and `invalidate`.
   * @default undefined (the manager's default identity)
   */
  identity?: I | undefined;
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return url.origin !== "null" && url.href === `${url.origin}/` && !url.username && !url.password;
  } catch {
    return false;
  }
}

const httpAuthRule = object({
  origins: check(
    (value) =>
      typeof value === "function" ||
      (Array.isArray(value) &&
        value.length > 0 &&
        value.every((origin) => typeof origin === "string" && isOrigin(origin))),
    'expected origins such as ["https://api.example.com"], or a function of the URL',
  ),
  identity: optional(check(isObject, "expected object")),
  fetch: optional(func()),
});

/** Parsed {@link HttpAuthOptions}: the origin policy as one predicate. */
export interface HttpAuth<I extends TokenIdentity> {
  readonly allowed: (url: URL) => boolean;
  readonly identity: I | undefined;
  readonly fetch: typeof globalThis.fetch;
}

/** Validates the options of `createAuthFetch` / `createKyHooks` once. */
export function parseHttpAuthOptions<I extends TokenIdentity>(
  options: HttpAuthOptions<I> & { fetch?: typeof globalThis.fetch | undefined },
  what: string,
): HttpAuth<I> {
  validate(httpAuthRule, options, what);
  const { origins } = options;
  let allowed: (url: URL) => boolean;
  if (typeof origins === "function") {
    allowed = (url) => origins(url) === true;
  } else {
    const set = new Set(origins.map((origin) => new URL(origin).origin));
    allowed = (url) => set.has(url.origin);
  }
  return {
    allowed,
    identity: options.identity,
    // Looked up per call, never captured: tests and polyfills may replace globalThis.fetch later.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
  };
}

/**
 * Whether a response answered a request that was redirected to another origin: its 401 is about a
 * request that carried no token of ours (fetch drops `Authorization` on cross-origin redirects).
 */
export function leftOrigin(response: Response, url: URL): boolean {
  if (!response.redirected || !response.url) return false;
  return new URL(response.url).origin !== url.origin;
}

/**
 * The `Authorization` value of `set` (`authorizationOf`), refused when it holds a line break or NUL:
 * no header can carry one, and the runtime's `TypeError` would quote the whole value, token included.
 *
 * @throws InvalidResponseError (`field "access_token" is invalid`, as for a wire answer; it names no
 *   value), before anything is sent.
 */
export function authorizationHeader(set: TokenSet): string {
  const value = authorizationOf(set);
  if (/[\0\n\r]/.test(value)) {
    throw invalidField("access_token", "is invalid");
  }
  return value;
}
