// The demo's authorization server (examples/local-servers), asked directly at its token endpoint:
// the three grants the demo shows, the lifetimes it is given, refresh tokens rotated on every use, and
// a used refresh token presented again revoking the whole grant (reuse detection).
import { type LocalServers, startLocalServers, USERS } from "@tokenkeep/example-local-servers";
import { afterAll, beforeAll, expect, it } from "vitest";
import { registerSecret } from "../../reliability/src/secret-registry.ts";

interface TokenAnswer {
  readonly access_token?: string;
  readonly refresh_token?: string;
  readonly expires_in?: number;
  readonly error?: string;
}

let servers: LocalServers;

beforeAll(async () => {
  servers = await startLocalServers({ accessTokenLifetimeS: 30, serviceTokenLifetimeS: 20 });
  registerSecret(servers.clientSecret, "site client secret");
  registerSecret(servers.service.clientSecret, "backend client secret");
  registerSecret(servers.robot.secret, "robot secret");
  registerSecret(servers.patAdminToken!, "admin PAT");
});

afterAll(() => servers?.close());

/**
 * A token request; the tokens of a 200 answer are registered (the run is searched for them). The
 * assertions compare statuses, error codes and booleans, so a failure message never shows a token.
 */
async function token(fields: Record<string, string>, client?: { id: string; secret: string }) {
  const answer = await fetch(`${servers.issuer}/token`, {
    method: "POST",
    headers: client
      ? {
          authorization: `Basic ${btoa(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`)}`,
        }
      : {},
    body: new URLSearchParams(fields),
  });
  const body = (await answer.json()) as TokenAnswer;
  if (body.access_token) registerSecret(body.access_token, "access token");
  if (body.refresh_token) registerSecret(body.refresh_token, "refresh token");
  return { status: answer.status, body };
}

const site = () => ({ id: servers.clientId, secret: servers.clientSecret });

it("issues client credentials, password and robot tokens, with the lifetimes it is given", async () => {
  const service = await token(
    { grant_type: "client_credentials", scope: "reports:read" },
    { id: servers.service.clientId, secret: servers.service.clientSecret },
  );
  expect(service.status).toBe(200);
  expect(service.body.expires_in).toBe(20);
  expect("refresh_token" in service.body, "a refresh token for a service").toBe(false);

  const [user, password] = Object.entries(USERS)[0]!;
  const signIn = await token(
    { grant_type: "password", username: user, password, scope: "openid offline_access" },
    site(),
  );
  expect(signIn.status).toBe(200);
  expect(signIn.body.expires_in).toBe(30);
  expect(typeof signIn.body.refresh_token, "a refresh token").toBe("string");
  const wrong = await token({ grant_type: "password", username: user, password: `${password}!` }, site());
  expect([wrong.status, wrong.body.error]).toEqual([400, "invalid_grant"]);

  const robot = await token({
    grant_type: "robot_credentials",
    client_id: servers.robot.clientId,
    id: servers.robot.id,
    secret: servers.robot.secret,
  });
  expect(robot.status).toBe(200);
  expect(robot.body.expires_in).toBe(20);
});

it("rotates the refresh token on every use; a used one presented again revokes the grant", async () => {
  const [user, password] = Object.entries(USERS)[0]!;
  const signIn = await token(
    { grant_type: "password", username: user, password, scope: "openid offline_access" },
    site(),
  );
  const first = signIn.body.refresh_token!;
  const rotated = await token({ grant_type: "refresh_token", refresh_token: first }, site());
  expect(rotated.status).toBe(200);
  const second = rotated.body.refresh_token!;
  // Compared as booleans: a failure message never shows a refresh token.
  expect(typeof second === "string" && second !== first, "a new refresh token").toBe(true);

  const revokedBefore = servers.counters.grantsRevoked;
  const reused = await token({ grant_type: "refresh_token", refresh_token: first }, site());
  expect([reused.status, reused.body.error]).toEqual([400, "invalid_grant"]);
  expect(servers.counters.grantsRevoked).toBe(revokedBefore + 1);
  // The whole grant is gone: the newest refresh token and its access token with it.
  const after = await token({ grant_type: "refresh_token", refresh_token: second }, site());
  expect([after.status, after.body.error]).toEqual([400, "invalid_grant"]);
  const introspection = await fetch(`${servers.issuer}/token/introspection`, {
    method: "POST",
    body: new URLSearchParams({
      token: rotated.body.access_token!,
      client_id: servers.clientId,
      client_secret: servers.clientSecret,
    }),
  });
  expect(await introspection.json()).toMatchObject({ active: false });
});
