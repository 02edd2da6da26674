import { DEFAULT_LIFETIME_MS } from "../defaults.js";
import { InvalidResponseError, OAuthError } from "../errors/errors.js";
import { isObject } from "../options/rules.js";
import type { JsonValue, TokenSet } from "./token-set.js";

/**
 * A successful token answer on the wire (RFC 6749 section 5.1). `expires_in` may be a number or a
 * numeric string; unknown fields are allowed and kept in `TokenSet.raw`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export interface TokenResponse {
  /** The access token. Secret. */
  access_token: string;
  /** Defaults to `Bearer`; compared case-insensitively. */
  token_type?: string | undefined;
  /** Lifetime in seconds, counted from when the request was sent. */
  expires_in?: number | string | undefined;
  /** A refresh token, when the grant issues one. Secret. */
  refresh_token?: string | undefined;
  /** The granted scope, space-delimited, when it differs from the requested one. */
  scope?: string | undefined;
  /** An OpenID Connect ID token. */
  id_token?: string | undefined;
  /** Lifetime of the refresh token in seconds, when the server says. */
  refresh_token_expires_in?: number | string | undefined;
  /** A server's hint to refresh after this many seconds. */
  refresh_in?: number | string | undefined;
  [field: string]: JsonValue | undefined;
}

/** Options of {@link parseTokenResponse}. */
export interface ParseTokenResponseOptions {
  /**
   * When the token request was sent, in epoch ms. Expiry is anchored here, not at the arrival of the
   * answer, so latency never extends a token's life.
   */
  sentAt: number;
  /**
   * Lifetime assumed when the answer has no `expires_in`.
   * @default 3_600_000 (one hour, `DEFAULT_LIFETIME_MS`)
   */
  defaultLifetimeMs?: number | undefined;
  /** The set being refreshed: its refresh token is kept when the answer carries none. */
  previous?: TokenSet | undefined;
  /**
   * The HTTP status of the answer, reported by an `OAuthError` when the body carries `error`.
   * @default 200
   */
  status?: number | undefined;
}

// The string fields; the seconds fields are checked where they are read. Nulls are dropped first:
// some servers send `"refresh_token": null` for an absent field.
const TEXT_FIELDS = ["access_token", "token_type", "refresh_token", "scope", "id_token"] as const;
type SecondsField = "expires_in" | "refresh_token_expires_in" | "refresh_in";

export function invalidField(field: string, problem: string): InvalidResponseError {
  return new InvalidResponseError(`invalid token response: field "${field}" ${problem}`);
}

const TOKEN_TYPES: Readonly<Record<string, string>> = { bearer: "Bearer", dpop: "DPoP", mac: "MAC" };

/**
 * Throws the `OAuthError` an RFC 6749 section 5.2 body describes, when it carries an `error` field.
 * The rest of the body is not copied into the error.
 */
export function throwIfErrorBody(
  body: Record<string, unknown>,
  status: number,
  extra: { retryAfterMs?: number | undefined; wwwAuthenticate?: string | undefined; response?: Response },
): void {
  if (body.error === undefined) return;
  if (typeof body.error !== "string") {
    throw new InvalidResponseError('invalid error answer: field "error" is not a string', {
      status,
      transient: status >= 500 || status === 429,
      response: extra.response,
    });
  }
  const str = (value: unknown) => (typeof value === "string" ? value : undefined);
  throw new OAuthError({
    error: body.error,
    errorDescription: str(body.error_description),
    errorUri: str(body.error_uri),
    status,
    ...extra,
  });
}

/**
 * Validates a token answer (RFC 6749 section 5.1) and normalizes it into a {@link TokenSet}.
 *
 * - A body with an `error` field is an error answer: throws `OAuthError` (status `options.status`,
 *   default 200), even when it also carries an access token.
 * - A body that fails validation throws `InvalidResponseError` naming the field, never its value.
 * - `token_type` defaults to `Bearer` and is compared case-insensitively (`bearer` becomes `Bearer`).
 * - `expires_in` (number or numeric string) counts from `options.sentAt`; when absent,
 *   `options.defaultLifetimeMs` applies. `refresh_in` becomes `refreshAt`.
 * - Without `refresh_token`, `options.previous.refreshToken` (and its expiry) is kept.
 * - Every field of the body, including unknown ones, is kept in `raw`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function parseTokenResponse(body: unknown, options: ParseTokenResponseOptions): TokenSet {
  if (!isObject(body)) throw new InvalidResponseError("invalid token response: not a JSON object");
  throwIfErrorBody(body, options.status ?? 200, {});
  const present: Record<string, unknown> = {};
  const raw: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value !== undefined) raw[key] = value as JsonValue;
    if (value !== undefined && value !== null) present[key] = value;
  }
  const token = present.access_token;
  if (token === undefined || token === "") {
    throw invalidField("access_token", token === "" ? "is empty" : "is missing");
  }
  for (const field of TEXT_FIELDS) {
    if (present[field] !== undefined && typeof present[field] !== "string")
      throw invalidField(field, "is invalid");
  }
  const answer = present as TokenResponse & { access_token: string };
  const { sentAt, previous } = options;
  // Seconds (a number or a numeric string) after sentAt, as epoch ms.
  const at = (field: SecondsField) => {
    const value = answer[field];
    if (value === undefined) return undefined;
    const seconds =
      typeof value === "number" || (typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value))
        ? Number(value)
        : -1;
    const ms = sentAt + seconds * 1000;
    // Past the last moment a Date can hold (year 275760) is no expiry at all: never "forever".
    if (!(seconds >= 0 && ms <= 8.64e15)) throw invalidField(field, "is invalid");
    return ms;
  };
  const type = answer.token_type?.trim() || "Bearer";
  const refreshToken = answer.refresh_token;
  return {
    accessToken: answer.access_token,
    tokenType: TOKEN_TYPES[type.toLowerCase()] ?? type,
    expiresAt: at("expires_in") ?? sentAt + (options.defaultLifetimeMs ?? DEFAULT_LIFETIME_MS),
    refreshAt: at("refresh_in"),
    refreshToken: refreshToken ?? previous?.refreshToken,
    // A new refresh token's expiry is the answer's alone; the previous one's stays with it.
    refreshTokenExpiresAt:
      at("refresh_token_expires_in") ?? (refreshToken ? undefined : previous?.refreshTokenExpiresAt),
    scope: answer.scope,
    idToken: answer.id_token,
    raw,
  };
}

/**
 * True when `value` looks like a {@link TokenSet} (as opposed to a wire {@link TokenResponse}): it
 * has a string `accessToken` and `tokenType`, a numeric `expiresAt` and a `raw` object.
 */
export function isTokenSet(value: unknown): value is TokenSet {
  return (
    isObject(value) &&
    typeof value.accessToken === "string" &&
    typeof value.tokenType === "string" &&
    typeof value.expiresAt === "number" &&
    isObject(value.raw)
  );
}

/**
 * What a creator (or a rotation's `redeem`) resolved to, as a token set: a ready set is checked, a
 * wire answer parsed with {@link parseTokenResponse}. A set whose `expiresAt` is a number but no
 * finite one (`NaN`, which would never be cached, so the creator ran on every call; `Infinity`, a
 * token never renewed) throws `InvalidResponseError` naming the field; one without a numeric
 * `expiresAt` is no set, and parsed as a wire answer (which names its missing `access_token`). The
 * set itself is checked, not a copy: its fields may be getters. Internal.
 */
export function toTokenSet(answer: unknown, options: ParseTokenResponseOptions): TokenSet {
  if (!isTokenSet(answer)) return parseTokenResponse(answer, options);
  if (!Number.isFinite(answer.expiresAt)) throw invalidField("expiresAt", "is invalid");
  return answer;
}
