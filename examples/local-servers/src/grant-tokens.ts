// The answer of the password grant: a new grant for the account, and an access token and a refresh
// token of it, as a token endpoint's 200 body. oidc-provider has no password grant of its own
// (OAuth 2.1 drops it), so the example registers one and builds its answer from the provider's models.
import type Provider from "oidc-provider";
import type { GrantContext } from "oidc-provider";

/** Answers `ctx` with a fresh access and refresh token for `accountId` and the client that asked. */
export async function answerWithTokens(
  provider: Provider,
  ctx: GrantContext,
  { accountId, gty, scope = "openid offline_access" }: { accountId: string; gty: string; scope?: string },
): Promise<void> {
  const client = ctx.oidc.client;
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(scope);
  const fields = { accountId, client, grantId: await grant.save(), gty, scope };
  const accessToken = new provider.AccessToken(fields);
  const refreshToken = new provider.RefreshToken(fields);
  ctx.body = {
    access_token: await accessToken.save(),
    token_type: "Bearer",
    expires_in: accessToken.expiration,
    refresh_token: await refreshToken.save(),
    scope,
  };
}
