import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOtherSecret, expectSameSecret } from "../../../test/reliability/src/secret-assert.js";
import { clientCredentialsGrant, passwordGrant, refreshTokenGrant, robotGrant } from "../src/index.js";
import {
  NODE_CLIENT,
  NODE_ODD_CLIENT,
  NODE_ROBOTS,
  NODE_USERS,
  type NodeOAuthServer,
  startNodeOAuth,
} from "./fixtures/oauth2-server.js";
import { rejection } from "./fixtures/rejection.js";

let rotating: NodeOAuthServer;
let steady: NodeOAuthServer;
beforeAll(async () => {
  [rotating, steady] = await Promise.all([
    startNodeOAuth({ rotate: true }),
    startNodeOAuth({ rotate: false }),
  ]);
});
afterAll(() => Promise.all([rotating.close(), steady.close()]));

const client = (server: NodeOAuthServer) => ({
  tokenUrl: server.tokenUrl,
  clientId: NODE_CLIENT.id,
  clientSecret: NODE_CLIENT.secret,
});

describe("@node-oauth/oauth2-server", () => {
  it("issues client credentials tokens (basic and post)", async () => {
    for (const clientAuthentication of ["client_secret_basic", "client_secret_post"] as const) {
      const before = Date.now();
      const set = await clientCredentialsGrant({ ...client(rotating), clientAuthentication })();
      expect(rotating.isActive(set.accessToken)).toBe(true);
      expect(set.refreshToken).toBeUndefined();
      // expires_in may be rounded down by a second; the expiry counts from when the request was sent.
      expect(set.expiresAt).toBeGreaterThanOrEqual(before + 3_598_000);
      expect(set.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
    }
  });

  it("reports a wrong secret: 401 with Basic, 400 with body credentials, both permanent", async () => {
    const basic = await rejection(clientCredentialsGrant({ ...client(rotating), clientSecret: "wrong" })());
    expect([basic.error, basic.status, basic.transient]).toEqual(["invalid_client", 401, false]);
    const post = await rejection(
      clientCredentialsGrant({
        ...client(rotating),
        clientSecret: "wrong",
        clientAuthentication: "client_secret_post",
      })(),
    );
    expect([post.error, post.status, post.transient]).toEqual(["invalid_client", 400, false]);
  });

  it("does not form-url-decode Basic credentials: a reserved-character secret needs client_secret_post", async () => {
    const odd = {
      tokenUrl: rotating.tokenUrl,
      clientId: NODE_ODD_CLIENT.id,
      clientSecret: NODE_ODD_CLIENT.secret,
    };
    const basic = await rejection(clientCredentialsGrant(odd)());
    expect([basic.error, basic.status]).toEqual(["invalid_client", 401]);
    const set = await clientCredentialsGrant({ ...odd, clientAuthentication: "client_secret_post" })();
    expect(rotating.isActive(set.accessToken)).toBe(true);
  });

  it("runs the password grant and rotates its refresh token", async () => {
    const first = await passwordGrant({ ...client(rotating), username: "bob", password: NODE_USERS.bob! })();
    expect(first.refreshToken).toBeTruthy();
    const second = await refreshTokenGrant(client(rotating))({ previous: first });
    expect(second.refreshToken).toBeTruthy();
    expectOtherSecret(second.refreshToken, first.refreshToken, "the rotated refresh token");
    expect(rotating.isActive(second.accessToken)).toBe(true);
    const replay = await rejection(refreshTokenGrant(client(rotating))({ previous: first }));
    expect(replay.error).toBe("invalid_grant");
  });

  it("keeps the old refresh token when a refresh answer carries none", async () => {
    const first = await passwordGrant({ ...client(steady), username: "bob", password: NODE_USERS.bob! })();
    const refresh = refreshTokenGrant({ ...client(steady), refreshToken: first.refreshToken });
    const second = await refresh();
    expect(second.raw.refresh_token).toBeUndefined();
    expectSameSecret(second.refreshToken, first.refreshToken, "the kept refresh token");
    expectOtherSecret(second.accessToken, first.accessToken, "the refreshed access token");
    // and the kept one still works
    const third = await refresh({ previous: second });
    expect(steady.isActive(third.accessToken)).toBe(true);
  });

  it("runs robot_credentials as an extension grant", async () => {
    const set = await robotGrant({ ...client(rotating), id: "robot-7", secret: NODE_ROBOTS["robot-7"]! })();
    expect(rotating.isActive(set.accessToken)).toBe(true);
    expect(set.refreshToken).toBeTruthy();
    const error = await rejection(robotGrant({ ...client(rotating), id: "robot-7", secret: "nope" })());
    expect(error.error).toBe("invalid_grant");
  });

  it("rejects bad user credentials as a permanent invalid_grant", async () => {
    const error = await rejection(
      passwordGrant({ ...client(rotating), username: "bob", password: "nope" })(),
    );
    expect([error.error, error.status, error.transient]).toEqual(["invalid_grant", 400, false]);
  });
});
