import * as z from "zod/mini";
import { DEFAULT_LIFETIME_MS } from "./defaults.js";
import { AbortError, InvalidResponseError, NetworkError, OAuthError, TimeoutError } from "./errors.js";
import { parseRetryAfter } from "./retry-after.js";
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

// One small schema (zod/mini keeps the core entry small). Nulls are dropped before parsing: some
// servers send `"refresh_token": null` for an absent field. Numeric strings are checked below.
const text = z.optional(z.string());
const number = z.optional(z.union([z.number(), z.string()]));
const tokenResponseSchema = z.object({
  access_token: z.string(),
  token_type: text,
  expires_in: number,
  refresh_token: text,
  scope: text,
  id_token: text,
  refresh_token_expires_in: number,
  refresh_in: number,
});

function invalidField(field: string, problem: string): InvalidResponseError {
  return new InvalidResponseError(`invalid token response: field "${field}" ${problem}`);
}

const TOKEN_TYPES: Readonly<Record<string, string>> = { bearer: "Bearer", dpop: "DPoP", mac: "MAC" };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Throws the `OAuthError` an RFC 6749 section 5.2 body describes, when it carries an `error` field.
 * The rest of the body is not copied into the error.
 */
function throwIfErrorBody(
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
  if (!isRecord(body)) throw new InvalidResponseError("invalid token response: not a JSON object");
  throwIfErrorBody(body, options.status ?? 200, {});
  const present: Record<string, unknown> = {};
  const raw: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value !== undefined) raw[key] = value as JsonValue;
    if (value !== undefined && value !== null) present[key] = value;
  }
  const result = z.safeParse(tokenResponseSchema, present);
  if (!result.success) {
    const field = String(result.error.issues[0]?.path[0]);
    throw invalidField(field, present[field] === undefined ? "is missing" : "is invalid");
  }
  const answer = result.data;
  if (answer.access_token === "") throw invalidField("access_token", "is empty");
  const { sentAt, previous } = options;
  // Seconds (a number or a numeric string) after sentAt, as epoch ms.
  const at = (field: "expires_in" | "refresh_token_expires_in" | "refresh_in") => {
    const value = answer[field];
    if (value === undefined) return undefined;
    const seconds = typeof value === "number" || /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : -1;
    if (!(seconds >= 0)) throw invalidField(field, "is invalid");
    return sentAt + seconds * 1000;
  };
  const type = answer.token_type?.trim() || "Bearer";
  const refreshToken = answer.refresh_token;
  return {
    accessToken: answer.access_token,
    tokenType: TOKEN_TYPES[type.toLowerCase()] ?? type,
    expiresAt: at("expires_in") ?? sentAt + (options.defaultLifetimeMs ?? DEFAULT_LIFETIME_MS),
    refreshAt: at("refresh_in"),
    refreshToken: refreshToken ?? previous?.refreshToken,
    refreshTokenExpiresAt: refreshToken
      ? at("refresh_token_expires_in")
      : (at("refresh_token_expires_in") ?? previous?.refreshTokenExpiresAt),
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
    isRecord(value) &&
    typeof value.accessToken === "string" &&
    typeof value.tokenType === "string" &&
    typeof value.expiresAt === "number" &&
    isRecord(value.raw)
  );
}

/** Options of {@link readTokenResponse}. */
export interface ReadTokenResponseOptions extends Omit<ParseTokenResponseOptions, "status"> {
  /**
   * The clock used to turn a `Retry-After` date into a wait, in epoch ms.
   * @default Date.now
   */
  now?: (() => number) | undefined;
}

function isJsonMediaType(contentType: string | null): boolean {
  if (contentType === null) return true; // no claim either way: let the body decide
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || type.endsWith("+json");
}

/**
 * Turns the HTTP answer of a token endpoint into a {@link TokenSet} or the right error:
 *
 * - 2xx with a JSON body: {@link parseTokenResponse} (an `error` field still makes it an `OAuthError`).
 * - An RFC 6749 section 5.2 error body (any status): `OAuthError` with `status`, `errorUri`,
 *   `wwwAuthenticate` and `retryAfterMs` (from `Retry-After`).
 * - Anything else (HTML from a proxy, an empty body, another media type, broken JSON):
 *   `InvalidResponseError` with the status; transient for 5xx, 408, 429 and for non-JSON 2xx answers.
 * - The body failing to arrive: `NetworkError`, `TimeoutError` or `AbortError`.
 *
 * No part of the body other than the RFC error fields ever reaches an error message.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export async function readTokenResponse(
  response: Response,
  options: ReadTokenResponseOptions,
): Promise<TokenSet> {
  const { status } = response;
  const now = options.now ?? Date.now;
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), now());
  const ok = status >= 200 && status < 300;
  const transient = status >= 500 || status === 429 || status === 408;
  const contentType = response.headers.get("content-type");
  const invalid = (what: string) =>
    new InvalidResponseError(`authorization server answered ${status} with ${what}`, {
      status,
      transient: ok || transient,
      retryAfterMs,
      response,
    });

  let body: unknown;
  if (isJsonMediaType(contentType)) {
    let textBody: string;
    try {
      textBody = await response.text();
    } catch (error) {
      throw bodyReadError(error);
    }
    if (textBody.trim() === "") throw invalid("an empty body");
    try {
      body = JSON.parse(textBody);
    } catch {
      // Not kept as the cause: JSON.parse quotes the text it rejects, which may hold a token.
      throw invalid("a body that is not JSON");
    }
  } else {
    await response.body?.cancel().catch(() => {});
    throw invalid(`${contentType?.split(";")[0]} instead of JSON`);
  }

  if (isRecord(body)) {
    throwIfErrorBody(body, status, {
      retryAfterMs,
      wwwAuthenticate: response.headers.get("www-authenticate") ?? undefined,
      response,
    });
  }
  if (!ok) throw invalid("no RFC 6749 error body");
  try {
    return parseTokenResponse(body, { ...options, status });
  } catch (error) {
    if (error instanceof InvalidResponseError) {
      throw new InvalidResponseError(error.message, { status, response });
    }
    throw error;
  }
}

function bodyReadError(error: unknown): Error {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "AbortError") return new AbortError(undefined, { cause: error });
  if (name === "TimeoutError")
    return new TimeoutError("reading the token answer timed out", { cause: error });
  return new NetworkError("reading the token answer failed", { cause: error });
}
