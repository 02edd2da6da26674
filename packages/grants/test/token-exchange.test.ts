import { createTokenManager } from "@tokenkeep/core";
import { generateKeyPair, jwtVerify, SignJWT } from "jose";
import { errors } from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectNoSecretIn,
  expectOtherSecret,
  expectSameSecret,
} from "../../../test/reliability/src/secret-assert.js";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import {
  JWT_BEARER_GRANT_TYPE,
  jwtBearerGrant,
  passwordGrant,
  robotGrant,
  TOKEN_EXCHANGE_GRANT_TYPE,
  tokenExchangeGrant,
} from "../src/index.js";
import {
  CLIENTS,
  type OidcProviderServer,
  ROBOTS,
  startOidcProvider,
  USERS,
} from "./fixtures/oidc-provider.js";
import { rejection } from "./fixtures/rejection.js";

const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const EXCHANGER = { id: "exchanger", secret: mintSecret("client secret") };
// The party whose JWTs the server accepts for the jwt-bearer grant (an upstream identity provider).
const trusted = await generateKeyPair("ES256");
const TRUSTED_ISSUER = "https://idp.example.test";

/** The parameters each registered grant received, as the server saw them. */
const received: Record<string, string | undefined>[] = [];

let op: OidcProviderServer;
beforeAll(async () => {
  op = await startOidcProvider({
    clients: [
      {
        client_id: EXCHANGER.id,
        client_secret: EXCHANGER.secret,
        grant_types: [TOKEN_EXCHANGE_GRANT_TYPE, JWT_BEARER_GRANT_TYPE],
        response_types: [],
        redirect_uris: [],
        scope: "openid",
      },
    ],
    configure(provider) {
      // Issues an access token for `accountId` to the calling client, as a real grant would.
      const issue = async (
        ctx: { oidc: { client: { clientId: string } }; body?: unknown },
        accountId: string,
        gty: string,
        extra: Record<string, string>,
      ) => {
        const client = ctx.oidc.client;
        const grant = new provider.Grant({ accountId, clientId: client.clientId });
        grant.addOIDCScope("openid");
        const grantId = await grant.save();
        const token = new provider.AccessToken({ accountId, client, grantId, gty, scope: "openid" });
        ctx.body = {
          access_token: await token.save(),
          token_type: "Bearer",
          expires_in: token.expiration,
          scope: "openid",
          ...extra,
        };
      };
      provider.registerGrantType(
        TOKEN_EXCHANGE_GRANT_TYPE,
        async (ctx) => {
          const params = { ...ctx.oidc.params };
          received.push(params);
          if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
            throw new errors.InvalidRequest!("unsupported subject_token_type");
          }
          const subject = await provider.AccessToken.find(params.subject_token);
          if (!subject) throw new errors.InvalidGrant!("subject_token is not valid");
          if (params.actor_token !== undefined && !(await provider.AccessToken.find(params.actor_token))) {
            throw new errors.InvalidGrant!("actor_token is not valid");
          }
          await issue(ctx, subject.accountId, "token-exchange", { issued_token_type: ACCESS_TOKEN_TYPE });
        },
        [
          "subject_token",
          "subject_token_type",
          "actor_token",
          "actor_token_type",
          "requested_token_type",
          "audience",
          "scope",
        ],
      );
      provider.registerGrantType(
        JWT_BEARER_GRANT_TYPE,
        async (ctx) => {
          const params = { ...ctx.oidc.params };
          received.push(params);
          const verified = await jwtVerify(params.assertion ?? "", trusted.publicKey, {
            issuer: TRUSTED_ISSUER,
            audience: op.issuer,
            requiredClaims: ["sub", "exp", "jti"],
          }).catch(() => undefined);
          if (!verified) throw new errors.InvalidGrant!("assertion is not valid");
          await issue(ctx, verified.payload.sub!, "jwt-bearer", {});
        },
        ["assertion", "scope"],
      );
    },
  });
});
afterAll(() => op?.close());

const exchanger = () => ({ issuer: op.issuer, clientId: EXCHANGER.id, clientSecret: EXCHANGER.secret });

async function subjectOf(token: string): Promise<unknown> {
  const response = await fetch(`${op.issuer}/token/introspection`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, client_id: EXCHANGER.id, client_secret: EXCHANGER.secret }),
  });
  const body = (await response.json()) as { active: boolean; sub?: string };
  expect(body.active).toBe(true);
  return body.sub;
}

describe("token exchange (RFC 8693) against oidc-provider", () => {
  const service = () => ({
    issuer: op.issuer,
    clientId: CLIENTS.service.id,
    clientSecret: CLIENTS.service.secret,
  });

  it("trades each subject's token for its own downstream token, cached per subject", async () => {
    // Two users' tokens, as two incoming requests would carry them.
    const alice = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
    const robot = await robotGrant({ ...service(), id: "robot-1", secret: ROBOTS["robot-1"]! })();
    const incoming = new Map([
      ["alice", alice.accessToken],
      ["robot", robot.accessToken],
    ]);
    const manager = createTokenManager({
      creator: tokenExchangeGrant({
        ...exchanger(),
        subjectToken: ({ identity }) => incoming.get(String(identity?.user))!,
        audience: "https://orders.example.test",
        scope: "openid",
      }),
    });
    const before = received.length;
    const forAlice = await manager.getToken({ identity: { user: "alice" } });
    const again = await manager.getToken({ identity: { user: "alice" } });
    const forRobot = await manager.getToken({ identity: { user: "robot" } });
    expectSameSecret(again.accessToken, forAlice.accessToken, "the cached exchanged token");
    expect(received.length - before).toBe(2);
    expect(await subjectOf(forAlice.accessToken)).toBe("alice");
    expect(await subjectOf(forRobot.accessToken)).toBe("robot:robot-1");
    expect(received.at(-1)).toMatchObject({
      subject_token: robot.accessToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: "https://orders.example.test",
      scope: "openid",
    });
    expect(received.at(-1)!.actor_token).toBeUndefined();
    await manager.dispose();
  });

  it("sends an actor token and token types, short names as URNs", async () => {
    const alice = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
    const actor = await robotGrant({ ...service(), id: "robot-1", secret: ROBOTS["robot-1"]! })();
    const set = await tokenExchangeGrant({
      ...exchanger(),
      subjectToken: alice.accessToken,
      actorToken: async () => actor.accessToken,
      requestedTokenType: "jwt",
    })();
    expect(await subjectOf(set.accessToken)).toBe("alice");
    expect(set.raw.issued_token_type).toBe(ACCESS_TOKEN_TYPE);
    expect(received.at(-1)).toMatchObject({
      actor_token: actor.accessToken,
      actor_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: JWT_TOKEN_TYPE,
    });
  });

  it("an unknown subject token is a permanent invalid_grant that does not echo it", async () => {
    const error = await rejection(tokenExchangeGrant({ ...exchanger(), subjectToken: "not-a-token-123" })());
    expect(error).toMatchObject({ error: "invalid_grant", transient: false });
    expectNoSecretIn(JSON.stringify(error), "not-a-token-123", "the error's JSON");
  });

  it("a subject token type the server does not take is invalid_request", async () => {
    const error = await rejection(
      tokenExchangeGrant({ ...exchanger(), subjectToken: "x", subjectTokenType: "id_token" })(),
    );
    expect(error.error).toBe("invalid_request");
    expect(received.at(-1)!.subject_token_type).toBe("urn:ietf:params:oauth:token-type:id_token");
  });

  it("validates its options", () => {
    expect(() => tokenExchangeGrant({ ...exchanger(), subjectToken: "" })).toThrow(
      /subjectToken: expected a non-empty string or a function/,
    );
    expect(() => tokenExchangeGrant({ ...exchanger(), subjectToken: "t", actorTokenType: "jwt" })).toThrow(
      "actorTokenType: only with actorToken",
    );
  });
});

describe("JWT bearer grant (RFC 7523 section 2.1) against oidc-provider", () => {
  const assertion = (subject: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer(TRUSTED_ISSUER)
      .setSubject(subject)
      .setAudience(op.issuer)
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime("2m")
      .sign(trusted.privateKey);

  it("trades a fresh assertion per request for a token of its subject", async () => {
    const creator = jwtBearerGrant({ ...exchanger(), assertion: () => assertion("carol"), scope: "openid" });
    const first = await creator();
    const second = await creator();
    expect(await subjectOf(first.accessToken)).toBe("carol");
    expectOtherSecret(second.accessToken, first.accessToken, "the second exchanged token");
    expect(received.at(-1)).toMatchObject({ scope: "openid" });
    expect(received.at(-1)!.assertion).not.toBe(received.at(-2)!.assertion);
  });

  it("an assertion from someone else is invalid_grant, never echoed", async () => {
    const stranger = await generateKeyPair("ES256");
    const forged = await new SignJWT({ sub: "carol", jti: "1" })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer(TRUSTED_ISSUER)
      .setAudience(op.issuer)
      .setExpirationTime("2m")
      .sign(stranger.privateKey);
    const error = await rejection(jwtBearerGrant({ ...exchanger(), assertion: forged })());
    expect(error).toMatchObject({ error: "invalid_grant", transient: false });
    expectNoSecretIn(JSON.stringify(error), forged, "the error's JSON");
  });

  it("a function that returns no assertion fails before any request", async () => {
    const before = op.hits.get("/token") ?? 0;
    await expect(jwtBearerGrant({ ...exchanger(), assertion: () => "" })()).rejects.toThrow(
      "assertion: the function returned no token",
    );
    expect(op.hits.get("/token") ?? 0).toBe(before);
  });
});
