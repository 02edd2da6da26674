/**
 * Enterprise client authentication and sender-constrained tokens against oidc-provider:
 * `private_key_jwt` and `client_secret_jwt` (`@tokenkeep/grants/client-assertion`), and DPoP
 * (`@tokenkeep/grants/dpop`) from the token request to the resource server.
 */
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";
import { clientSecretJwt, privateKeyJwt } from "@tokenkeep/grants/client-assertion";
import { createDPoP } from "@tokenkeep/grants/dpop";
import { assert, assertEqual, type MatrixConfig } from "../harness.ts";

/** Two tokens in a row: the server refuses a replayed assertion, so each carried a fresh one. */
export async function privateKeyJwtAuthentication(config: MatrixConfig): Promise<void> {
  const creator = clientCredentialsGrant({
    tokenUrl: config.tokenUrl,
    clientId: config.privateKeyJwt.clientId,
    clientAuthentication: privateKeyJwt({ key: config.privateKeyJwt.privateJwk }),
  });
  const first = await creator();
  const second = await creator();
  assert(first.accessToken !== second.accessToken, "two tokens from two assertions");
  assertEqual(first.tokenType, "Bearer", "token type");
}

/** HS256 keyed by the secret, which never travels. */
export async function clientSecretJwtAuthentication(config: MatrixConfig): Promise<void> {
  const creator = clientCredentialsGrant({
    tokenUrl: config.tokenUrl,
    clientId: config.clientSecretJwt.clientId,
    clientAuthentication: clientSecretJwt({ secret: config.clientSecretJwt.secret }),
  });
  const set = await creator();
  assert(set.accessToken.length > 0, "a token");
  await creator();
}

/**
 * A DPoP-bound token (the token endpoint's nonce challenge met), spent through `createAuthFetch` on a
 * resource server that checks the binding and the proof and asks for its own nonce first.
 */
export async function dpop(config: MatrixConfig): Promise<void> {
  const key = createDPoP();
  await using manager = createTokenManager({
    creator: clientCredentialsGrant({
      tokenUrl: config.tokenUrl,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      fetch: key.fetch,
    }),
  });
  const set = await manager.getToken();
  assertEqual(set.tokenType, "DPoP", "token type");
  const authFetch = createAuthFetch(manager, { origins: [config.origin], fetch: key.fetch });
  for (const query of ["?first", "?second"]) {
    const answer = await authFetch(`${config.origin}/rs/dpop${query}`);
    assertEqual(answer.status, 200, `resource server answer (${query})`);
    await answer.body?.cancel();
  }
  assertEqual((await manager.getToken()).accessToken, set.accessToken, "the token was never replaced");
}
