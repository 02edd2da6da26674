import { InvalidResponseError } from "@tokenkeep/core";
import { readTokenResponse } from "@tokenkeep/core/http";
import * as rules from "@tokenkeep/core/options";
import {
  checkGrantOptions,
  type GrantOptions,
  grantOptionsShape,
  notTaken,
  urlRule,
} from "./grant-options.js";
import { postToEndpoint, resolveEndpoint } from "./internal/token-endpoint.js";

/**
 * Options of {@link revokeToken}: the grants' shared options but `tokenUrl` and `defaultLifetimeMs`,
 * which a revocation has no use for. A value for either is refused as an unknown option (a
 * `TypeError` with code `ERR_TOKENKEEP_INVALID_OPTIONS`), never silently ignored.
 */
export interface RevokeTokenOptions extends Omit<GrantOptions, "tokenUrl" | "defaultLifetimeMs"> {
  /**
   * The revocation endpoint. Either this or `issuer` (whose metadata names it) is required; it takes
   * the place of the grants' `tokenUrl`.
   * @default the issuer metadata's `revocation_endpoint`
   */
  revocationUrl?: string | URL | undefined;
  /** The token to revoke: an access token or a refresh token. Secret. */
  token: string;
  /**
   * A hint of what `token` is, so the server looks in the right place first.
   * @default undefined
   */
  tokenTypeHint?: "access_token" | "refresh_token" | (string & {}) | undefined;
  /** Stops the request. */
  signal?: AbortSignal | undefined;
}

// Built on first use, so a bundle that never calls this creator drops it. The shared shape has
// `tokenUrl` and `defaultLifetimeMs`, which a revocation never uses: a value for either is refused,
// not ignored, so nobody believes the token endpoint is where the revocation goes.
const rule = () =>
  rules.object({
    ...grantOptionsShape(),
    tokenUrl: notTaken("tokenUrl", "revocationUrl"),
    defaultLifetimeMs: notTaken("defaultLifetimeMs"),
    revocationUrl: rules.optional(urlRule()),
    token: rules.string(1),
    tokenTypeHint: rules.optional(rules.string(1)),
    signal: rules.optional(
      rules.check<AbortSignal>((value) => value instanceof AbortSignal, "expected an AbortSignal"),
    ),
  });

/**
 * Revokes an access or refresh token (RFC 7009). Resolves once the server answered 200, which it
 * also does for a token it does not know; an error answer becomes core's `OAuthError` (for example
 * `unsupported_token_type`), a 503 a transient error carrying `retryAfterMs`.
 *
 * @example
 * await revokeToken({ issuer, clientId, clientSecret, token: set.refreshToken, tokenTypeHint: "refresh_token" });
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export async function revokeToken(options: RevokeTokenOptions): Promise<void> {
  const parsed = rules.validate(rule(), options, "revokeToken", (parsed) =>
    checkGrantOptions(parsed, "revocationUrl"),
  );
  const url = await resolveEndpoint(parsed, "revocation_endpoint", parsed.revocationUrl, parsed.signal);
  const params = { token: parsed.token, token_type_hint: parsed.tokenTypeHint };
  await postToEndpoint(url, params, parsed, parsed.signal, "revocation request", async (response) => {
    if (response.ok) {
      await response.body?.cancel().catch(() => {});
      return;
    }
    // Error answers share the token endpoint's shape (RFC 7009 section 2.2.1): let core read them.
    await readTokenResponse(response, { sentAt: parsed.now(), now: parsed.now });
    throw new InvalidResponseError(`revocation answered ${response.status}`, { status: response.status });
  });
}
