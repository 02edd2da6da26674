/**
 * The OAuth 2.0 upstream: sign-in with the password grant, rotation with the refresh token grant,
 * sign-out revokes the refresh token (RFC 7009, its options checked at start too), and, when `introspection` asks for it, a rotation in
 * doubt is checked by introspecting the refresh token (RFC 7662); all from `@tokenkeep/grants` (which
 * validates these options when the upstream is built, and discovers endpoints from `issuer`).
 */
import { type JsonValue, OAuthError, type TokenSet } from "@tokenkeep/core";
import { INVALID_OPTIONS_CODE } from "@tokenkeep/core/options";
import { createRevocation, passwordGrant, refreshTokenGrant } from "@tokenkeep/grants";
import { refreshTokenActive } from "@tokenkeep/grants/introspection";
import type { OAuthUpstreamOptions, Upstream } from "../config/schema.js";
import { fromBase64Url } from "../internal/base64url.js";
import { SESSION_PAYLOAD_KEY } from "../session.js";

/**
 * The claims of an ID token as the session payload. The token came straight from the token endpoint
 * over the connection the client authenticated, which OpenID Connect Core (section 3.1.3.7) accepts
 * in place of checking its signature; nothing here authorizes anything by these claims.
 */
function claimsOf(set: TokenSet): JsonValue | undefined {
  const payload = set.idToken?.split(".")[1];
  const bytes = payload === undefined ? undefined : fromBase64Url(payload);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as JsonValue;
  } catch {
    return undefined;
  }
}

/** Keeps only what the session needs: the wire answer (`raw`) stays out of the cookie. */
function slim(set: TokenSet): TokenSet {
  const claims = claimsOf(set);
  return { ...set, raw: claims === undefined ? {} : { [SESSION_PAYLOAD_KEY]: claims } };
}

const invalid = (message: string, cause?: unknown) =>
  Object.assign(new TypeError(message, { cause }), { code: INVALID_OPTIONS_CODE });

/**
 * Runs grants' constructor `make`, its options error restated at this config's paths: grants names its
 * own function and options (`invalid refreshTokenGrant options: scope: ...`), the user wrote
 * `upstream.oauth.scope`.
 */
function checked<T>(setting: string, make: () => T, own?: string): T {
  try {
    return make();
  } catch (error) {
    if ((error as { code?: unknown } | undefined)?.code !== INVALID_OPTIONS_CODE) throw error;
    const { message, cause } = error as Error;
    const problems = Array.isArray(cause)
      ? cause.map(String)
      : [message.replace(/^invalid \w+ options:\s*/, "")];
    // `own` is the grants option this setting itself became (`introspection` -> `introspectionUrl`).
    const located = problems.map((problem) =>
      problem.startsWith("(options): ")
        ? `${setting}: ${problem.slice(11)}`
        : own !== undefined && problem.startsWith(`${own}: `)
          ? `${setting}: ${problem.slice(own.length + 2)}`
          : `${setting}.${problem}`,
    );
    throw invalid(located.join("; "), error);
  }
}

/** A sign-in without a username or a password: the password grant cannot succeed, so none is sent. */
const missingCredentials = () =>
  new OAuthError({
    error: "invalid_request",
    errorDescription: "the password grant needs a username and a password",
    status: 400,
    transient: false,
  });

/**
 * Builds the {@link Upstream} of an OAuth configuration. Every creator's options are checked here
 * (grants validates them as the creator is made; no request is sent), so a mistake throws now.
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) for invalid options.
 */
export function oauthUpstream(options: OAuthUpstreamOptions): Upstream {
  const { revocationUrl, scope, introspection, ...grant } = options;
  const redeem = checked("upstream.oauth", () => refreshTokenGrant(grant));
  // Sign-in makes a password grant per call (the credentials are its options): one made now, with
  // stand-in credentials, checks the rest of them (`scope` included) before the first sign-in.
  checked("upstream.oauth", () => passwordGrant({ ...grant, username: "-", password: "-", scope }));
  const { tokenUrl: _tokenUrl, defaultLifetimeMs: _lifetime, ...revocation } = grant;
  // Made now, so a mistaken `revocationUrl` stops the server at start rather than leaving every
  // sign-out unrevoked upstream (discovery still waits for the first sign-out). Without an endpoint
  // or an issuer to find one (a `tokenUrl` alone), sign-out ends the session here only.
  const revoker =
    revocationUrl === undefined && grant.issuer === undefined
      ? undefined
      : checked("upstream.oauth", () => createRevocation({ ...revocation, revocationUrl }));
  // Built now, so its options are checked when the upstream is (an issuer without an introspection
  // endpoint fails at the first check, permanently: the rotation is then handled as without a check).
  let verify: Upstream["isRefreshTokenActive"];
  if (introspection !== undefined && introspection !== false) {
    verify = checked(
      "upstream.oauth.introspection",
      () =>
        refreshTokenActive(
          introspection === true ? revocation : { ...revocation, introspectionUrl: introspection },
        ),
      "introspectionUrl",
    );
  }
  return {
    ...(verify === undefined ? {} : { isRefreshTokenActive: verify }),
    async signIn(credentials, { signal }) {
      const { username = "", password = "" } = credentials;
      if (username === "" || password === "") throw missingCredentials();
      const creator = passwordGrant({ ...grant, username, password, scope });
      return slim(await creator(signal === undefined ? {} : { signal }));
    },
    async refresh({ previous, signal }) {
      return slim(await redeem({ previous, signal }));
    },
    ...(revoker === undefined
      ? {}
      : {
          async signOut({ accessToken, refreshToken, signal }) {
            await revoker.revoke(refreshToken ?? accessToken, {
              tokenTypeHint: refreshToken === undefined ? "access_token" : "refresh_token",
              signal,
            });
          },
        }),
  };
}
