import { InvalidResponseError, isTransientStatus, type JsonValue, OAuthError } from "@tokenkeep/core";
import { readTokenResponse } from "@tokenkeep/core/http";
import * as rules from "@tokenkeep/core/options";
import {
  checkGrantOptions,
  type GrantOptions,
  grantOptionsShape,
  notTaken,
  urlRule,
} from "../grant-options.js";
import { postToEndpoint, resolveEndpoint } from "../internal/token-endpoint.js";

/**
 * Options of {@link createIntrospection}: the endpoint and client authentication options every
 * grant takes, with `introspectionUrl` in place of `tokenUrl`.
 */
export interface IntrospectionOptions extends Omit<GrantOptions, "tokenUrl" | "defaultLifetimeMs"> {
  /**
   * The introspection endpoint. Either this or `issuer` (whose metadata names its
   * `introspection_endpoint`) is required; when both are given, this one wins. Must be `https:`
   * unless the host is loopback or `allowInsecureRequests` is set, and hold no user name or password.
   */
  introspectionUrl?: string | URL | undefined;
}

/** Options of one {@link Introspection.introspect} call. */
export interface IntrospectOptions {
  /**
   * What the token is, so the server looks in the right place first (RFC 7662 section 2.1).
   * @default undefined (no hint sent)
   */
  tokenTypeHint?: "access_token" | "refresh_token" | (string & {}) | undefined;
  /** Stops the request (the promise rejects with core's `AbortError`). */
  signal?: AbortSignal | undefined;
}

/**
 * The server's answer about one token (RFC 7662 section 2.2). `active` is the only field every
 * answer has; the others are there when the server sent them, checked to have the type the RFC gives
 * them. Times are in seconds since the epoch, as on the wire.
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.2
 */
export interface IntrospectionResult {
  /** Whether the token is currently active: issued by this server, not expired, not revoked or used up. */
  readonly active: boolean;
  /** Space-separated scopes of the token. */
  readonly scope?: string | undefined;
  /** The client the token was issued to. */
  readonly client_id?: string | undefined;
  /** A human-readable identifier of the resource owner. */
  readonly username?: string | undefined;
  /** The token's type (`Bearer`, `DPoP`...). */
  readonly token_type?: string | undefined;
  /** When the token expires, in seconds since the epoch. */
  readonly exp?: number | undefined;
  /** When the token was issued, in seconds since the epoch. */
  readonly iat?: number | undefined;
  /** When the token becomes usable, in seconds since the epoch. */
  readonly nbf?: number | undefined;
  /** The subject of the token (usually the resource owner's id). */
  readonly sub?: string | undefined;
  /** The audience(s) the token is meant for. */
  readonly aud?: string | readonly string[] | undefined;
  /** The issuer of the token. */
  readonly iss?: string | undefined;
  /** The token's identifier. */
  readonly jti?: string | undefined;
  /** The whole answer as the server sent it, unknown fields (`cnf`, `acr`...) included. */
  readonly raw: Readonly<Record<string, JsonValue>>;
}

/** An introspection client: made once by {@link createIntrospection}, called per token. */
export interface Introspection {
  /**
   * Asks the server about `token` (RFC 7662). Resolves with its answer, `active: false` included
   * (an unknown, expired, revoked or used-up token); rejects with core's errors: `OAuthError` for an
   * error answer (`invalid_client`...), `InvalidResponseError` for an answer that is not a JSON
   * object with a boolean `active` (transient for 5xx and non-JSON bodies), `NetworkError`,
   * `TimeoutError` or `AbortError`. No error names the token or a credential.
   * @param token the access or refresh token to ask about. Secret.
   */
  introspect(token: string, options?: IntrospectOptions): Promise<IntrospectionResult>;
}

/** The standard claims of {@link IntrospectionResult} besides `active`, with the JSON type each must have. */
const CLAIMS: Readonly<Record<string, "string" | "number" | "audience">> = {
  scope: "string",
  client_id: "string",
  username: "string",
  token_type: "string",
  exp: "number",
  iat: "number",
  nbf: "number",
  sub: "string",
  aud: "audience",
  iss: "string",
  jti: "string",
};

function hasType(value: unknown, type: "string" | "number" | "audience"): boolean {
  if (type === "audience") {
    return (
      typeof value === "string" || (Array.isArray(value) && value.every((item) => typeof item === "string"))
    );
  }
  return type === "number" ? typeof value === "number" && Number.isFinite(value) : typeof value === "string";
}

/**
 * The result of one introspection answer, or the error it stands for. An error status is read as a
 * token endpoint's would be (RFC 7662 section 2.3 refers to RFC 6749's error answers); a 2xx must be a
 * JSON object with a boolean `active`. Messages name a field, never its value.
 */
async function readIntrospection(response: Response, now: () => number): Promise<IntrospectionResult> {
  const { status } = response;
  const invalid = (problem: string, transient = false) =>
    new InvalidResponseError(`invalid introspection response: ${problem}`, { status, transient, response });
  if (status < 200 || status > 299) {
    // Throws for every status outside 2xx: an OAuthError for an error body, else InvalidResponseError.
    await readTokenResponse(response, { sentAt: now(), now });
    throw invalid(`answered ${status}`, isTransientStatus(status));
  }
  // Read as text first: a body that fails to arrive (reset, timeout, abort) stays a transport error.
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Not kept as the cause: JSON.parse quotes the text it refused.
    throw invalid("the body is not JSON", true);
  }
  if (!rules.isObject(body)) throw invalid("not a JSON object");
  if (typeof body.error === "string") {
    const string = (value: unknown) => (typeof value === "string" ? value : undefined);
    throw new OAuthError({
      error: body.error,
      errorDescription: string(body.error_description),
      errorUri: string(body.error_uri),
      status,
      response,
    });
  }
  if (typeof body.active !== "boolean") {
    throw invalid(`field "active" is ${body.active === undefined ? "missing" : "not a boolean"}`);
  }
  const result: Record<string, unknown> = { active: body.active, raw: body };
  for (const [claim, type] of Object.entries(CLAIMS)) {
    const value = body[claim];
    if (value === undefined) continue;
    if (!hasType(value, type)) {
      // An inactive token's claims mean nothing (RFC 7662 section 2.2: the server SHOULD NOT send
      // them): a malformed one is left out, so "inactive" stays an answer, not an error.
      if (!body.active) continue;
      throw invalid(
        `field "${claim}" is not a ${type === "audience" ? "string or a list of strings" : type}`,
      );
    }
    result[claim] = value;
  }
  return result as unknown as IntrospectionResult;
}

const signalRule = () =>
  rules.optional(
    rules.check<AbortSignal>((value) => value instanceof AbortSignal, "expected an AbortSignal"),
  );

/**
 * Makes an RFC 7662 token introspection client. Options are validated here, once (a bad one is a
 * `TypeError` with code `ERR_TOKENKEEP_INVALID_OPTIONS`); the endpoint is `introspectionUrl`, or the
 * `introspection_endpoint` of the issuer's metadata, read on the first call and cached (a client
 * authenticating with mutual TLS uses its `mtls_endpoint_aliases`). The client authenticates as it
 * does to the token endpoint: `client_secret_basic` by default, `client_secret_post`, the mutual TLS
 * methods, or `privateKeyJwt(...)`/`clientSecretJwt(...)` from `@tokenkeep/grants/client-assertion`
 * (whose `aud` is the introspection endpoint).
 *
 * @example
 * const { introspect } = createIntrospection({ issuer, clientId: "api", clientSecret });
 * const { active, scope } = await introspect(accessToken, { tokenTypeHint: "access_token" });
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export function createIntrospection(options: IntrospectionOptions): Introspection {
  // As revokeToken: the shared shape's `tokenUrl` and `defaultLifetimeMs` are refused when given (a
  // spread of grant options with them unset still fits), naming the option meant instead.
  const parsed = rules.validate(
    rules.object({
      ...grantOptionsShape(),
      tokenUrl: notTaken("tokenUrl", "introspectionUrl"),
      defaultLifetimeMs: notTaken("defaultLifetimeMs"),
      introspectionUrl: rules.optional(urlRule()),
    }),
    options,
    "createIntrospection",
    (parsed) =>
      checkGrantOptions({ ...parsed, tokenUrl: undefined, defaultLifetimeMs: undefined }, "introspectionUrl"),
  );
  const resolved = { ...parsed, tokenUrl: undefined, defaultLifetimeMs: undefined };
  const callRule = rules.object({ tokenTypeHint: rules.optional(rules.string(1)), signal: signalRule() });
  return {
    async introspect(token, callOptions) {
      const call = rules.validate(callRule, callOptions, "introspect", () =>
        typeof token === "string" && token !== "" ? [] : ["token: expected a non-empty string"],
      );
      const url = await resolveEndpoint(
        resolved,
        "introspection_endpoint",
        parsed.introspectionUrl,
        call.signal,
      );
      return postToEndpoint(
        url,
        { token, token_type_hint: call.tokenTypeHint },
        resolved,
        call.signal,
        "introspection request",
        (response) => readIntrospection(response, resolved.now),
      );
    },
  };
}

/** What {@link refreshTokenActive}'s verifier is given: the refresh token in doubt and a signal. */
export interface RefreshTokenActiveContext {
  /** The refresh token to ask about. Secret. */
  readonly refreshToken: string;
  /** Stops the question (the verifier then rejects with core's `AbortError`). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A verifier for a refresh token whose redemption got no definite answer: it introspects the token
 * (`token_type_hint=refresh_token`) and resolves `true` only when the server answers `active: true`,
 * `false` when it answers `active: false` (rotated away, revoked, expired or unknown there), and
 * rejects when it could not find out (an error answer, a network failure, a timeout).
 *
 * Use it where a rotation was abandoned in doubt: a refresh request that met a 500, 502 or 504 or a
 * cut connection may or may not have been redeemed, and presenting the token a second time after the
 * server did rotate it is a reuse, for which a reuse-detecting server (oidc-provider, Auth0, Okta...)
 * revokes the whole grant. It fits the rotation coordinator's `verifyUnredeemed` hook
 * (`@tokenkeep/core/rotation`), which asks it once the redemption has had time to settle, presents
 * the token again on `true` and ends the session on `false`; a rejection leaves it in doubt.
 *
 * The client must be allowed to introspect its own refresh tokens (most servers allow it; oidc-provider
 * asks its `features.introspection.allowedPolicy`). A server that keeps accepting a rotated refresh
 * token for a grace period after rotating it (Okta can) may answer `active: true` during it; a second
 * presentation within that period is accepted there, not taken for a reuse.
 *
 * @example
 * const verifyUnredeemed = refreshTokenActive({ issuer, clientId: "web", clientSecret });
 * const stillUnredeemed = await verifyUnredeemed({ refreshToken, signal });
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export function refreshTokenActive(
  options: IntrospectionOptions,
): (context: RefreshTokenActiveContext) => Promise<boolean> {
  const { introspect } = createIntrospection(options);
  return ({ refreshToken, signal }) =>
    introspect(refreshToken, { tokenTypeHint: "refresh_token", signal }).then((result) => result.active);
}
