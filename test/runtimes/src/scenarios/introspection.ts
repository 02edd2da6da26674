/**
 * Token introspection (`@tokenkeep/grants/introspection`, RFC 7662) against oidc-provider: the
 * endpoint found through discovery, an access token described, a refresh token active until a
 * rotation and inactive after it, and a string the server never issued inactive.
 */
import { clientCredentialsGrant, refreshTokenGrant } from "@tokenkeep/grants";
import { createIntrospection, refreshTokenActive } from "@tokenkeep/grants/introspection";
import { assert, assertEqual, type MatrixConfig } from "../harness.ts";

export async function introspection(config: MatrixConfig): Promise<void> {
  const client = { clientId: config.clientId, clientSecret: config.clientSecret };
  const { introspect } = createIntrospection({ issuer: config.issuer, ...client });
  const { accessToken } = await clientCredentialsGrant({ tokenUrl: config.tokenUrl, ...client })();
  const described = await introspect(accessToken, { tokenTypeHint: "access_token" });
  assertEqual(described.active, true, "a live access token is active");
  assertEqual(described.client_id, config.clientId, "client_id");
  assertEqual(described.token_type, "Bearer", "token_type");
  assert(typeof described.exp === "number", "exp is a number");

  const verifyUnredeemed = refreshTokenActive({ issuer: config.issuer, ...client });
  const refreshToken = config.introspectionRefreshToken;
  assertEqual(await verifyUnredeemed({ refreshToken }), true, "an unredeemed refresh token is active");
  const rotated = await refreshTokenGrant({ tokenUrl: config.tokenUrl, ...client, refreshToken })();
  assertEqual(await verifyUnredeemed({ refreshToken }), false, "the rotated-away refresh token is inactive");
  assertEqual(
    await verifyUnredeemed({ refreshToken: rotated.refreshToken ?? "" }),
    true,
    "its successor is active",
  );
  assertEqual(
    (await introspect("never-issued-by-this-server")).active,
    false,
    "an unknown string is inactive",
  );
}
