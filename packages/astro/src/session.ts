/**
 * The session a cookie carries: the upstream's token set reduced to what the server needs, plus the
 * `sessionPayload` (user claims) the upstream returned. Compact keys keep the cookie small.
 */
import type { JsonValue, TokenSet } from "@tokenkeep/core";

/** A signed-in session. */
export interface Session {
  /** The upstream's access token. Secret. */
  readonly accessToken: string;
  /** `Bearer` unless the upstream said otherwise. */
  readonly tokenType: string;
  /** When the access token expires, epoch ms. */
  readonly expiresAt: number;
  /** The refresh token, when the upstream issued one. Secret. */
  readonly refreshToken?: string | undefined;
  /** When the refresh token expires, epoch ms, when the upstream said. */
  readonly refreshTokenExpiresAt?: number | undefined;
  /** What the upstream said about the user (claims, profile), when mapped. Kept across refreshes. */
  readonly sessionPayload?: JsonValue | undefined;
  /**
   * When these tokens were received from the upstream, epoch ms (for a rotated pair, when its
   * redemption was answered, also in a request that picked it up later as the successor): bounds the
   * refresh window to half their lifetime and starts the 401 cooldown.
   */
  readonly issuedAt?: number | undefined;
  /**
   * These tokens replaced a pair the API answered 401 (the API client renewed the session): within
   * `api.unauthorizedCooldownMs` of `issuedAt`, a 401 to them renews nothing. Cleared by the next
   * rotation that is not such a renewal.
   */
  readonly replacedRejected?: boolean | undefined;
}

/** Where an upstream adapter puts the session payload inside a token set's `raw`. */
export const SESSION_PAYLOAD_KEY = "tokenkeep:sessionPayload";

interface Stored {
  v: 1;
  a: string;
  t: string;
  e: number;
  r?: string;
  re?: number;
  p?: JsonValue;
  i?: number;
  u?: 1;
}

/** The cookie text of a session (to be sealed). */
export function encodeSession(session: Session): string {
  const stored: Stored = { v: 1, a: session.accessToken, t: session.tokenType, e: session.expiresAt };
  if (session.refreshToken !== undefined) stored.r = session.refreshToken;
  if (session.refreshTokenExpiresAt !== undefined) stored.re = session.refreshTokenExpiresAt;
  if (session.sessionPayload !== undefined) stored.p = session.sessionPayload;
  if (session.issuedAt !== undefined) stored.i = session.issuedAt;
  if (session.replacedRejected === true) stored.u = 1;
  return JSON.stringify(stored);
}

/** The session in a cookie's (unsealed) text; `undefined` for anything malformed. */
export function decodeSession(text: string): Session | undefined {
  let stored: Partial<Stored>;
  try {
    stored = JSON.parse(text) as Partial<Stored>;
  } catch {
    return undefined;
  }
  if (typeof stored !== "object" || stored === null || stored.v !== 1) return undefined;
  if (typeof stored.a !== "string" || typeof stored.t !== "string" || typeof stored.e !== "number") {
    return undefined;
  }
  return {
    accessToken: stored.a,
    tokenType: stored.t,
    expiresAt: stored.e,
    refreshToken: typeof stored.r === "string" ? stored.r : undefined,
    refreshTokenExpiresAt: typeof stored.re === "number" ? stored.re : undefined,
    sessionPayload: stored.p,
    issuedAt: typeof stored.i === "number" ? stored.i : undefined,
    replacedRejected: stored.u === 1 ? true : undefined,
  };
}

/** The token set the rotation coordinator redeems for a session. */
export function sessionToTokenSet(session: Session): TokenSet {
  return {
    accessToken: session.accessToken,
    tokenType: session.tokenType,
    expiresAt: session.expiresAt,
    refreshToken: session.refreshToken,
    refreshTokenExpiresAt: session.refreshTokenExpiresAt,
    raw: session.sessionPayload === undefined ? {} : { [SESSION_PAYLOAD_KEY]: session.sessionPayload },
  };
}

/**
 * The session for a token set an upstream returned at `receivedAt`; `previous` supplies what a
 * refresh left out.
 */
export function tokenSetToSession(set: TokenSet, receivedAt: number, previous?: Session): Session {
  const payload = set.raw[SESSION_PAYLOAD_KEY];
  return {
    accessToken: set.accessToken,
    tokenType: set.tokenType,
    expiresAt: set.expiresAt,
    refreshToken: set.refreshToken ?? previous?.refreshToken,
    refreshTokenExpiresAt:
      set.refreshTokenExpiresAt ??
      (set.refreshToken === undefined ? previous?.refreshTokenExpiresAt : undefined),
    sessionPayload: payload ?? previous?.sessionPayload,
    issuedAt: receivedAt,
  };
}
