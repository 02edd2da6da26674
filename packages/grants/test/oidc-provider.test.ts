import type { TokenSet } from "@tokenkeep/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOtherSecret } from "../../../test/reliability/src/secret-assert.js";
import {
  clientCredentialsGrant,
  createRevocation,
  discover,
  passwordGrant,
  refreshTokenGrant,
  revokeToken,
  robotGrant,
} from "../src/index.js";
import {
  CLIENTS,
  type OidcProviderServer,
  OTHER_RESOURCE,
  RESOURCE,
  ROBOTS,
  startOidcProvider,
  USERS,
} from "./fixtures/oidc-provider.js";
import { rejection } from "./fixtures/rejection.js";

let op: OidcProviderServer;
beforeAll(async () => {
  op = await startOidcProvider();
});
afterAll(() => op.close());

const service = () => ({
  issuer: op.issuer,
  clientId: CLIENTS.service.id,
  clientSecret: CLIENTS.service.secret,
});

async function introspect(token: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${op.issuer}/token/introspection`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      token,
      client_id: CLIENTS.service.id,
      client_secret: CLIENTS.service.secret,
    }),
  });
  return (await response.json()) as Record<string, unknown>;
}

describe("oidc-provider", () => {
  it("discovers the token and revocation endpoints", async () => {
    const metadata = await discover(op.issuer);
    expect(metadata.issuer).toBe(op.issuer);
    expect(metadata.token_endpoint).toBe(`${op.issuer}/token`);
    expect(metadata.revocation_endpoint).toBe(`${op.issuer}/token/revocation`);
  });

  it("issues client credentials tokens with client_secret_basic and client_secret_post", async () => {
    for (const clientAuthentication of ["client_secret_basic", "client_secret_post"] as const) {
      const set = await clientCredentialsGrant({ ...service(), clientAuthentication, resource: RESOURCE })();
      expect(set.tokenType).toBe("Bearer");
      const info = await introspect(set.accessToken);
      expect(info.active).toBe(true);
      expect(info.client_id).toBe(CLIENTS.service.id);
    }
  });

  it("sends a secret with %, + and : through Basic, form-url-encoded as RFC 6749 2.3.1 says", async () => {
    const set = await clientCredentialsGrant({
      issuer: op.issuer,
      clientId: CLIENTS.odd.id,
      clientSecret: CLIENTS.odd.secret,
      resource: RESOURCE,
    })();
    expect(set.accessToken).toBeTruthy();
    // The control: the same credentials Base64-encoded without form-url-encoding are refused.
    const raw = await fetch(`${op.issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`${CLIENTS.odd.id}:${CLIENTS.odd.secret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "client_credentials", resource: RESOURCE }),
    });
    expect(raw.status).toBeGreaterThanOrEqual(400);
  });

  it("sends scope and one resource; rejects several resources as this server only takes one", async () => {
    const set = await clientCredentialsGrant({ ...service(), scope: ["api:read"], resource: RESOURCE })();
    expect(set.scope).toBe("api:read");
    const info = await introspect(set.accessToken);
    expect(info.aud).toBe(RESOURCE);
    const error = await rejection(
      clientCredentialsGrant({ ...service(), resource: [RESOURCE, OTHER_RESOURCE] })(),
    );
    expect(error.error).toBe("invalid_target");
    expect(error.errorDescription).toMatch(/single resource/);
  });

  it("refuses JSON bodies (its token endpoint takes forms only), as a permanent invalid_request", async () => {
    const error = await rejection(
      clientCredentialsGrant({ ...service(), bodyEncoding: "json", resource: RESOURCE })(),
    );
    expect([error.error, error.status, error.transient]).toEqual(["invalid_request", 400, false]);
  });

  it("reports a wrong client secret as a permanent invalid_client with WWW-Authenticate", async () => {
    const error = await rejection(clientCredentialsGrant({ ...service(), clientSecret: "wrong" })());
    expect(error.error).toBe("invalid_client");
    expect(error.status).toBe(401);
    expect(error.transient).toBe(false);
    expect(error.wwwAuthenticate).toMatch(/^Basic/);
  });

  it("runs the password and robot_credentials grants, each with a refresh token", async () => {
    const user = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
    const robot = await robotGrant({ ...service(), id: "robot-1", secret: ROBOTS["robot-1"]! })();
    for (const set of [user, robot] as TokenSet[]) {
      expect(set.refreshToken).toBeTruthy();
      expect((await introspect(set.accessToken)).active).toBe(true);
    }
    expect((await introspect(robot.accessToken)).sub).toBe("robot:robot-1");
    const error = await rejection(passwordGrant({ ...service(), username: "alice", password: "nope" })());
    expect(error.error).toBe("invalid_grant");
  });

  it("rotates refresh tokens and kills the family when a rotated one is replayed", async () => {
    const first = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
    const refresh = refreshTokenGrant(service());
    const second = await refresh({ previous: first });
    expect(second.refreshToken).toBeTruthy();
    expectOtherSecret(second.refreshToken, first.refreshToken, "the rotated refresh token");
    const replay = await rejection(refresh({ previous: first }));
    expect(replay.error).toBe("invalid_grant");
    expect(replay.transient).toBe(false);
    const afterReplay = await rejection(refresh({ previous: second }));
    expect(afterReplay.error).toBe("invalid_grant");
  });

  it("revokes a refresh token (RFC 7009)", async () => {
    const set = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
    await revokeToken({ ...service(), token: set.refreshToken!, tokenTypeHint: "refresh_token" });
    expect((await introspect(set.refreshToken!)).active).toBe(false);
    const error = await rejection(refreshTokenGrant(service())({ previous: set }));
    expect(error.error).toBe("invalid_grant");
    // Unknown tokens are accepted, as RFC 7009 section 2.2 says.
    await revokeToken({ ...service(), token: "never-issued" });
  });

  it("revokes through createRevocation, its options checked once and the endpoint discovered on first use", async () => {
    const { revoke } = createRevocation({ ...service(), revocationUrl: undefined });
    const first = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
    const second = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
    await revoke(first.refreshToken!, { tokenTypeHint: "refresh_token" });
    await revoke(second.accessToken);
    expect((await introspect(first.refreshToken!)).active).toBe(false);
    expect((await introspect(second.accessToken)).active).toBe(false);
  });
});
