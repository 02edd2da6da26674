import { createTokenManager, isInvalidResponseError } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
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
import { listen } from "./fixtures/http.js";
import {
  CLIENTS,
  type OidcProviderServer,
  ROBOTS,
  startOidcProvider,
  USERS,
} from "./fixtures/oidc-provider.js";
import { failure, rejection } from "./fixtures/rejection.js";

const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const EXCHANGER = { id: "exchanger", secret: mintSecret("client secret") };
// The party whose JWTs the server accepts for the jwt-bearer grant (an upstream identity provider).
const trusted = await generateKeyPair("ES256");
const TRUSTED_ISSUER = "https://idp.example.test";
// The key of the JWTs the token exchange issues when a JWT is requested (for another domain's
// jwt-bearer grant, RFC 8693 section 3: not an access token of this server).
const exchangeKey = await generateKeyPair("ES256");

/** Every token the token exchange answered with, so the tests can check no error holds one. */
const exchanged: string[] = [];

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
          // An access token unless a JWT is asked for; `x_answer` (sent as an extra parameter) makes
          // the answer wrong the way some servers' are, for the tests of what the client accepts.
          const quirk = params.x_answer;
          const requested = quirk === "ignores-requested-type" ? undefined : params.requested_token_type;
          if (requested === JWT_TOKEN_TYPE) {
            const jwt = await new SignJWT({})
              .setProtectedHeader({ alg: "ES256" })
              .setIssuer(op.issuer)
              .setSubject(subject.accountId)
              .setAudience(params.audience ?? op.issuer)
              .setJti(crypto.randomUUID())
              .setIssuedAt()
              .setExpirationTime("5m")
              .sign(exchangeKey.privateKey);
            // RFC 8693 section 2.2.1: a token that is not an access token has token_type N_A.
            ctx.body = {
              access_token: jwt,
              issued_token_type: JWT_TOKEN_TYPE,
              token_type: "N_A",
              expires_in: 300,
            };
          } else if (requested === undefined || requested === ACCESS_TOKEN_TYPE) {
            await issue(ctx, subject.accountId, "token-exchange", { issued_token_type: ACCESS_TOKEN_TYPE });
          } else {
            throw new errors.InvalidRequest!("unsupported requested_token_type");
          }
          const body = ctx.body as Record<string, unknown>;
          if (quirk === "no-issued-token-type") delete body.issued_token_type;
          if (quirk === "n_a") body.token_type = "N_A";
          exchanged.push(body.access_token as string);
        },
        [
          "subject_token",
          "subject_token_type",
          "actor_token",
          "actor_token_type",
          "requested_token_type",
          "audience",
          "scope",
          "x_answer",
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

  it("sends an actor token and token types, short names as URNs; a requested JWT may be N_A", async () => {
    const alice = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
    const actor = await robotGrant({ ...service(), id: "robot-1", secret: ROBOTS["robot-1"]! })();
    const set = await tokenExchangeGrant({
      ...exchanger(),
      subjectToken: alice.accessToken,
      actorToken: async () => actor.accessToken,
      requestedTokenType: "jwt",
      audience: "https://other-domain.example.test",
    })();
    // Asked for, so taken: a JWT for another domain, not an access token here (RFC 8693 section 3).
    const { payload } = await jwtVerify(set.accessToken, exchangeKey.publicKey, {
      audience: "https://other-domain.example.test",
    });
    expect(payload.sub).toBe("alice");
    expect(set.raw.issued_token_type).toBe(JWT_TOKEN_TYPE);
    expect(set.tokenType).toBe("N_A");
    expect(received.at(-1)).toMatchObject({
      actor_token: actor.accessToken,
      actor_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: JWT_TOKEN_TYPE,
    });
  });

  it("takes an access token whose issued_token_type is the requested one", async () => {
    const alice = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
    const set = await tokenExchangeGrant({
      ...exchanger(),
      subjectToken: alice.accessToken,
      requestedTokenType: "access_token",
    })();
    expect(await subjectOf(set.accessToken)).toBe("alice");
    expect([set.raw.issued_token_type, set.tokenType]).toEqual([ACCESS_TOKEN_TYPE, "Bearer"]);
  });

  describe("an answer RFC 8693 section 2.2.1 does not allow is a permanent InvalidResponseError", () => {
    /** The exchange's error for an answer shaped by `quirk`, checked to hold none of the tokens. */
    const refused = async (
      quirk: string,
      requestedTokenType?: string,
      extraParams: Record<string, string> = {},
    ) => {
      const alice = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
      const before = exchanged.length;
      const error = await failure(
        tokenExchangeGrant({
          ...exchanger(),
          subjectToken: alice.accessToken,
          requestedTokenType,
          extraParams: { ...extraParams, x_answer: quirk },
        })(),
      );
      expect(exchanged.length - before).toBe(1); // the server did answer, with a token
      expect(isInvalidResponseError(error)).toBe(true);
      expect(error.transient).toBe(false);
      expectNoSecretIn(
        `${String(error)}\n${JSON.stringify(error)}`,
        [alice.accessToken, ...exchanged.slice(before)],
        "the error",
      );
      return error.message;
    };

    it("without issued_token_type (REQUIRED), with or without a requested type", async () => {
      for (const requested of [undefined, "access_token"]) {
        expect(await refused("no-issued-token-type", requested)).toBe(
          'invalid token response: field "issued_token_type" is missing',
        );
      }
    });

    it("with another issued_token_type than the requested one, naming no value", async () => {
      // A JWT asked for, an access token answered: not what the caller will use it as.
      const message = 'invalid token response: field "issued_token_type" is not the requested_token_type';
      expect(await refused("ignores-requested-type", "jwt")).toBe(message);
      // Asked for through extraParams (sent when requestedTokenType is unset): checked the same.
      expect(
        await refused("ignores-requested-type", undefined, { requested_token_type: JWT_TOKEN_TYPE }),
      ).toBe(message);
    });

    it("token_type N_A for an access token, so nothing goes out as `Authorization: N_A ...`", async () => {
      const message =
        'invalid token response: field "token_type" is N_A (not an access token), but an access token was expected: give requestedTokenType for another kind';
      expect(await refused("n_a", "access_token")).toBe(message);
      expect(await refused("n_a")).toBe(message); // no type requested: the creator stands for an access token

      // Through a manager and createAuthFetch: the resource server never sees the token.
      await using api = await listen((_request, response) => response.end("ok"));
      const alice = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
      const manager = createTokenManager({
        creator: tokenExchangeGrant({
          ...exchanger(),
          subjectToken: alice.accessToken,
          extraParams: { x_answer: "n_a" },
        }),
      });
      const authFetch = createAuthFetch(manager, { origins: [api.url] });
      await expect(authFetch(`${api.url}/orders`)).rejects.toThrow(message);
      expect(api.hits.get("/orders")).toBeUndefined();
      await manager.dispose();
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
