import { TokenkeepError, type TokenSet } from "@tokenkeep/core";
import * as rules from "@tokenkeep/core/options";
import { createGrantCreator, type GrantCreator } from "./grant-creator.js";
import { checkGrantOptions, type GrantOptions, grantOptionsShape, stringsRule } from "./grant-options.js";
import { identityField, scopeParam } from "./internal/params.js";

/** Options of {@link refreshTokenGrant}. */
export interface RefreshTokenGrantOptions extends GrantOptions {
  /**
   * The refresh token to redeem when the call has no `previous` token set carrying one (as when the
   * manager calls it, or when you pass `{ previous }` yourself). Secret.
   * @default undefined
   */
  refreshToken?: string | undefined;
  /**
   * A narrower scope to request (RFC 6749 section 6). A manager identity's `scope` replaces it.
   * @default undefined (the scope originally granted)
   */
  scope?: string | readonly string[] | undefined;
}

// Built on first use, so a bundle that never calls this creator drops it.
const rule = () =>
  rules.object({
    ...grantOptionsShape(),
    refreshToken: rules.optional(rules.string(1)),
    scope: rules.optional(stringsRule()),
  });

/** The `code` of the error thrown when there is no refresh token to redeem. */
export const NO_REFRESH_TOKEN = "ERR_TOKENKEEP_NO_REFRESH_TOKEN";

/**
 * A token creator for the refresh token grant. It redeems `previous.refreshToken` (the set the
 * manager is refreshing) or else `options.refreshToken`, and when the answer carries no new refresh
 * token the old one is kept in the returned set. With rotation, the returned set holds the new one.
 *
 * Works as the token manager's `refresher` and on its own:
 * `await refreshTokenGrant({ issuer, clientId, clientSecret })({ previous: session })`.
 * Without any refresh token it throws a permanent error with code `ERR_TOKENKEEP_NO_REFRESH_TOKEN`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export function refreshTokenGrant(options: RefreshTokenGrantOptions): GrantCreator {
  const parsed = rules.validate(rule(), options, "refreshTokenGrant", checkGrantOptions);
  const redeemed = (previous: TokenSet | undefined) => previous?.refreshToken ?? parsed.refreshToken;
  const creator = createGrantCreator("refresh_token", parsed, ({ previous, identity }) => ({
    refresh_token: redeemed(previous),
    scope: scopeParam(identityField(identity, "scope") ?? parsed.scope),
  }));
  return async (context = {}) => {
    const refreshToken = redeemed(context.previous);
    if (refreshToken === undefined) {
      throw new TokenkeepError(NO_REFRESH_TOKEN, "no refresh token to redeem", { transient: false });
    }
    const set = await creator(context);
    // Without rotation the answer has no refresh_token: the one just redeemed stays valid.
    return set.refreshToken === undefined ? { ...set, refreshToken } : set;
  };
}
