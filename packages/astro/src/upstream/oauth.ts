/**
 * The OAuth 2.0 upstream: sign-in with the password grant, rotation with the refresh token grant,
 * sign-out revokes the refresh token (RFC 7009), and, when `introspection` asks for it, a rotation in
 * doubt is checked by introspecting the refresh token (RFC 7662); all from `@tokenkeep/grants` (which
 * validates these options when the upstream is built, and discovers endpoints from `issuer`).
 */
import type { JsonValue, TokenSet } from "@tokenkeep/core";
import { INVALID_OPTIONS_CODE } from "@tokenkeep/core/options";
import { passwordGrant, refreshTokenGrant, revokeToken } from "@tokenkeep/grants";
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

const invalid = (message: string) => Object.assign(new TypeError(message), { code: INVALID_OPTIONS_CODE });

/** Builds the {@link Upstream} of an OAuth configuration. */
export function oauthUpstream(options: OAuthUpstreamOptions): Upstream {
  const { revocationUrl, scope, introspection, ...grant } = options;
  const redeem = refreshTokenGrant(grant);
  const { tokenUrl: _tokenUrl, defaultLifetimeMs: _lifetime, ...revocation } = grant;
  // Built now, so its options are checked when the upstream is (an issuer without an introspection
  // endpoint fails at the first check, permanently: the rotation is then handled as without a check).
  let verify: Upstream["isRefreshTokenActive"];
  if (introspection !== undefined && introspection !== false) {
    try {
      verify = refreshTokenActive(
        introspection === true ? revocation : { ...revocation, introspectionUrl: introspection },
      );
    } catch (error) {
      // grants names its own option (`introspectionUrl`): say which setting of this config it was.
      const reason = error instanceof Error ? error.message : String(error);
      throw invalid(`upstream.oauth.introspection: ${reason.replace(/^createIntrospection[^:]*:\s*/, "")}`);
    }
  }
  return {
    ...(verify === undefined ? {} : { isRefreshTokenActive: verify }),
    async signIn(credentials, { signal }) {
      const { username = "", password = "" } = credentials;
      const creator = passwordGrant({ ...grant, username, password, scope });
      return slim(await creator(signal === undefined ? {} : { signal }));
    },
    async refresh({ previous, signal }) {
      return slim(await redeem({ previous, signal }));
    },
    async signOut({ accessToken, refreshToken, signal }) {
      await revokeToken({
        ...revocation,
        revocationUrl,
        token: refreshToken ?? accessToken,
        tokenTypeHint: refreshToken === undefined ? "access_token" : "refresh_token",
        signal,
      });
    },
  };
}
