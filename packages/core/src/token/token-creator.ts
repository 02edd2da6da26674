import type { TokenResponse } from "./token-response.js";
import type { TokenSet } from "./token-set.js";

/**
 * What a token is for: the parameters a creator is called with and the key the manager caches and
 * single-flights on. Two identities with the same normalized content share one token; scope strings
 * and arrays are order-insensitive.
 *
 * @example { scope: "read write", resource: ["https://api.example"] }
 */
export type TokenIdentity = Readonly<
  Record<string, string | number | boolean | readonly string[] | undefined>
>;

/** What the manager passes to a {@link TokenCreator}. */
export interface TokenCreatorContext<I extends TokenIdentity = TokenIdentity> {
  /** Aborts when the manager is disposed or the fetch times out. Pass it to `fetch`. */
  readonly signal: AbortSignal;
  /** The current token set of this identity, if any: a refresh-token creator redeems its refresh token. */
  readonly previous?: TokenSet | undefined;
  /** The identity this token is for (empty for a manager that serves one identity). */
  readonly identity: I;
}

/**
 * An async function that obtains a token. It may return the wire answer (RFC 6749 section 5.1),
 * which the manager validates and normalizes, or a ready {@link TokenSet}, whose `expiresAt` must be
 * a finite number (else the manager refuses it with an `InvalidResponseError` naming the field). A plain
 * `() => Promise<{ access_token, token_type, expires_in }>` is a valid creator.
 *
 * Failures are classified by `isTransientError`: `fetch`'s network `TypeError`, a `TimeoutError`
 * and errors carrying status 408, 429 or 5xx are retried, anything else surfaces at once. Throw
 * tokenkeep errors (`OAuthError`, `NetworkError`, ...) for full control, including `retryAfterMs`.
 */
export type TokenCreator<I extends TokenIdentity = TokenIdentity> = (
  context: TokenCreatorContext<I>,
) => Promise<TokenCreatorResult>;

/**
 * What a {@link TokenCreator} resolves to: a ready {@link TokenSet}, or the RFC 6749 fields of a wire
 * answer. Unlike {@link TokenResponse} it has no index signature, so a creator typed with an
 * interface of its own (e.g. `@authup/core-http-kit`'s `TokenGrantResponse`) fits unchanged; extra
 * fields are still read and kept in `TokenSet.raw`.
 */
export type TokenCreatorResult =
  | TokenSet
  | Pick<
      TokenResponse,
      | "access_token"
      | "token_type"
      | "expires_in"
      | "refresh_token"
      | "scope"
      | "id_token"
      | "refresh_token_expires_in"
      | "refresh_in"
    >;
