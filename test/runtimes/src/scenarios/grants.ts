/**
 * Grants against oidc-provider on 127.0.0.1 (started by the orchestrator in Node), through core's
 * manager: client credentials, refresh-token rotation, and OAuth error answers surfacing as core's
 * `OAuthError` with its `code`.
 */
import { createTokenManager, isOAuthError, isTokenkeepError } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant, refreshTokenGrant } from "@tokenkeep/grants";
import { assert, assertEqual, type MatrixConfig, rejection } from "../harness.ts";

function countingFetch() {
  const counter = { calls: 0 };
  const fetcher: typeof fetch = (input, init) => {
    counter.calls += 1;
    return fetch(input, init);
  };
  return { counter, fetcher };
}

/**
 * A client-credentials token from the server, cached by the manager and accepted by the resource
 * server (which asks the authorization server) through `createAuthFetch`.
 */
export async function clientCredentials(config: MatrixConfig): Promise<void> {
  const { counter, fetcher } = countingFetch();
  const creator = clientCredentialsGrant({
    tokenUrl: config.tokenUrl,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    fetch: fetcher,
  });
  await using manager = createTokenManager({ creator });
  const before = Date.now();
  const sets = await Promise.all(Array.from({ length: 5 }, () => manager.getToken()));
  assertEqual(counter.calls, 1, "token requests for 5 concurrent callers");
  const set = sets[0]!;
  assert(
    sets.every((other) => other.accessToken === set.accessToken),
    "every caller got the same token",
  );
  assertEqual(set.tokenType, "Bearer", "token type");
  const lifetimeMs = set.expiresAt - before;
  assert(
    lifetimeMs > 250_000 && lifetimeMs <= 301_000,
    `expiresAt is about 300 s ahead (got ${lifetimeMs} ms)`,
  );

  assertEqual(await manager.getAuthorizationHeader(), `Bearer ${set.accessToken}`, "authorization header");
  const authFetch = createAuthFetch(manager, { origins: [config.origin] });
  const answers = await Promise.all(
    Array.from({ length: 3 }, () => authFetch(`${config.origin}/rs/protected`)),
  );
  assertEqual(answers.map((answer) => answer.status).join(","), "200,200,200", "resource server answers");
  await Promise.all(answers.map((answer) => answer.body?.cancel()));
  assertEqual(counter.calls, 1, "token requests after the resource calls");
}

/** Refresh tokens rotate through the manager; the server's reuse detection answers `invalid_grant`. */
export async function refreshTokenRotation(config: MatrixConfig): Promise<void> {
  const options = { tokenUrl: config.tokenUrl, clientId: config.clientId, clientSecret: config.clientSecret };
  await using manager = createTokenManager({
    creator: refreshTokenGrant({ ...options, refreshToken: config.refreshToken }),
  });
  const first = await manager.getToken();
  assert(first.refreshToken !== undefined, "the answer carries a refresh token");
  assert(first.refreshToken !== config.refreshToken, "the refresh token was rotated");
  const second = await manager.getToken({ forceRefresh: true });
  assert(second.accessToken !== first.accessToken, "forceRefresh got a new access token");
  assert(
    second.refreshToken !== undefined && second.refreshToken !== first.refreshToken,
    "the second refresh redeemed the rotated token and got another",
  );

  // The original token was consumed by the first refresh: presenting it again is reuse.
  const reused = await rejection(
    refreshTokenGrant({ ...options, refreshToken: config.refreshToken })(),
    "redeeming a consumed refresh token",
  );
  assert(isOAuthError(reused), `expected an OAuthError, got ${String(reused)}`);
  assertEqual(reused.error, "invalid_grant", "error");
  assertEqual(reused.status, 400, "status");
  assertEqual(reused.transient, false, "transient");
}

/** A wrong client secret: 401 `invalid_client` as core's `OAuthError` (code and fields), not retried, secret-free. */
export async function oauthError(config: MatrixConfig): Promise<void> {
  const { counter, fetcher } = countingFetch();
  const wrongSecret = config.wrongClientSecret;
  await using manager = createTokenManager({
    creator: clientCredentialsGrant({
      tokenUrl: config.tokenUrl,
      clientId: config.clientId,
      clientSecret: wrongSecret,
      fetch: fetcher,
    }),
    retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 5 },
  });
  const error = await rejection(manager.getToken(), "getToken with a wrong secret");
  assert(isTokenkeepError(error), `expected a TokenkeepError, got ${String(error)}`);
  assertEqual(error.code, "ERR_TOKENKEEP_OAUTH", "code");
  assert(isOAuthError(error), "isOAuthError");
  assertEqual(error.error, "invalid_client", "error");
  assertEqual(error.status, 401, "status");
  assertEqual(error.transient, false, "transient");
  assert(error.wwwAuthenticate !== undefined, "WWW-Authenticate is kept");
  assertEqual(counter.calls, 1, "token requests (a permanent error is not retried)");
  const shown = `${error.message} ${JSON.stringify(error)} ${String(error.stack)}`;
  assert(
    !shown.includes(wrongSecret) && !shown.includes(btoa(`${config.clientId}:${wrongSecret}`)),
    "no secret in the error",
  );
}
