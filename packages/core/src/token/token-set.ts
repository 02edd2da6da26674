/**
 * The token set: what a creator's answer becomes once validated and normalized. It is what the
 * manager caches, what stores persist (as JSON) and what callers receive.
 */

/** Any JSON value: what a {@link Store} may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A normalized, camelCase token set. All times are epoch milliseconds. */
export interface TokenSet {
  /** The access token. Secret: never log it. */
  readonly accessToken: string;
  /** The token type as the server sent it, normalized so `bearer` becomes `Bearer`. */
  readonly tokenType: string;
  /**
   * When the access token expires, in epoch ms, anchored at the moment the request was *sent*
   * (not when the answer arrived), so network latency never extends a token's life. A finite number:
   * a creator's set with `NaN` or `Infinity` is refused.
   */
  readonly expiresAt: number;
  /** When the server asked the client to refresh (`refresh_in`), in epoch ms, if it did. */
  readonly refreshAt?: number | undefined;
  /** The refresh token, kept from the previous set when a refresh answer carries none. Secret. */
  readonly refreshToken?: string | undefined;
  /** When the refresh token expires (`refresh_token_expires_in`), in epoch ms, if the server said. */
  readonly refreshTokenExpiresAt?: number | undefined;
  /** The granted scope, space-delimited, when the server sent one. */
  readonly scope?: string | undefined;
  /** The OpenID Connect ID token, when present. Secret. */
  readonly idToken?: string | undefined;
  /** Every field of the wire answer, including unknown ones. Secret (it contains the tokens). */
  readonly raw: Readonly<Record<string, JsonValue>>;
}

/** The `Authorization` header value of a token set, e.g. `Bearer eyJ...`. */
export function authorizationOf(set: TokenSet): string {
  return `${set.tokenType} ${set.accessToken}`;
}
