/// <reference path="./oidc-provider.d.ts" />
// The servers the examples and the demo start for themselves when no upstream is configured, all on
// 127.0.0.1 and free ports:
// - ONE OpenID provider (oidc-provider) for every kind of caller: client credentials for a backend,
//   the password grant for a site (refresh tokens rotated on every use; presenting a used one revokes
//   the whole grant), and a robot credentials grant (`grant_type=robot_credentials`, Authup's shape);
// - an API checking each bearer token with the provider's introspection endpoint (RFC 7662):
//   `/me` and `/items/<n>` for users, `/reports` for services;
// - a personal access token server (`@tokenkeep/pat-server`) on embedded SQLite, in memory or in a file.
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startPatServer } from "@tokenkeep/pat-server/node";
import { createSqliteStore } from "@tokenkeep/pat-server/sqlite";
import Provider, { errors } from "oidc-provider";
import { answerWithTokens } from "./grant-tokens.ts";
import { MemoryAdapter, signingKeys } from "./provider-storage.ts";

/** The demo's users (the sign-in form's hint shows the first). */
export const USERS: Readonly<Record<string, string>> = { alice: "correct horse", bob: "battery staple" };

/** Options of {@link startLocalServers}. */
export interface LocalServersOptions {
  /** Life of the access tokens the password grant issues (the site's), in seconds. @default 30 */
  readonly accessTokenLifetimeS?: number;
  /** Life of client credentials and robot tokens (services), in seconds. @default accessTokenLifetimeS */
  readonly serviceTokenLifetimeS?: number;
  /** The PAT server's SQLite file. @default ":memory:" */
  readonly patDatabase?: string;
  /** Whether to issue an admin PAT at start (`patAdminToken`). @default true */
  readonly bootstrapPatAdmin?: boolean;
}

/** A client registered at the provider. Its secret is a secret: never log it. */
export interface LocalClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface LocalServers {
  readonly issuer: string;
  /** The site's client (password and refresh token grants, scope `openid offline_access`). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** The backend's client (client credentials grant, scope `reports:read`). */
  readonly service: LocalClient;
  /** A robot for the robot credentials grant: `id` and `secret`, through the public client `clientId`. */
  readonly robot: { readonly clientId: string; readonly id: string; readonly secret: string };
  readonly apiUrl: string;
  readonly patUrl: string;
  /** The admin PAT issued at start, unless `bootstrapPatAdmin` was false. */
  readonly patAdminToken: string | undefined;
  /** Requests at the token endpoint and the revocation endpoint, and grants the provider revoked (a reused refresh token revokes its grant). */
  readonly counters: { tokenRequests: number; grantsRevoked: number; revocations: number };
  close(): Promise<void>;
}

async function listen(handler: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const capitalized = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

export async function startLocalServers(options: LocalServersOptions = {}): Promise<LocalServers> {
  const accessTokenLifetimeS = options.accessTokenLifetimeS ?? 30;
  const serviceTokenLifetimeS = options.serviceTokenLifetimeS ?? accessTokenLifetimeS;
  const site = { clientId: "astro-app", clientSecret: `demo-${crypto.randomUUID()}` };
  const service = { clientId: "node-backend", clientSecret: `demo-${crypto.randomUUID()}` };
  const robot = { clientId: "robots", id: "robot-1", secret: `demo-${crypto.randomUUID()}` };
  const counters = { tokenRequests: 0, grantsRevoked: 0, revocations: 0 };

  let provider: Provider | undefined;
  const auth = await listen((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path === "/token/revocation") counters.revocations++;
    else if (path === "/token") counters.tokenRequests++;
    provider?.callback()(request, response);
  });
  provider = new Provider(auth.url, {
    adapter: MemoryAdapter,
    jwks: signingKeys(),
    clients: [
      {
        client_id: site.clientId,
        client_secret: site.clientSecret,
        grant_types: ["password", "refresh_token"],
        response_types: [],
        redirect_uris: [],
        scope: "openid offline_access",
      },
      {
        client_id: service.clientId,
        client_secret: service.clientSecret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        scope: "reports:read",
      },
      {
        client_id: robot.clientId,
        token_endpoint_auth_method: "none",
        grant_types: ["robot_credentials"],
        response_types: [],
        redirect_uris: [],
        scope: "reports:read",
      },
    ],
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, name: capitalized(id) }),
    }),
    claims: { openid: ["sub"], profile: ["name"] },
    scopes: ["openid", "offline_access", "reports:read"],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: () => true },
      revocation: { enabled: true, allowedPolicy: () => true },
    },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: accessTokenLifetimeS,
      ClientCredentials: serviceTokenLifetimeS,
      RefreshToken: 86_400,
      Grant: 86_400,
      IdToken: 3600,
      Interaction: 60,
      Session: 60,
    },
  });
  provider.on("grant.revoked", () => {
    counters.grantsRevoked++;
  });
  provider.registerGrantType(
    "password",
    async (ctx) => {
      const { username, password } = ctx.oidc.params;
      if (!username || USERS[username] !== password) throw new errors.InvalidGrant("invalid credentials");
      await answerWithTokens(provider!, ctx, { accountId: username, gty: "password" });
    },
    ["username", "password", "scope"],
  );
  // The robot credentials grant: a robot's id and secret buy a service token (no refresh token).
  provider.registerGrantType(
    "robot_credentials",
    async (ctx) => {
      const { id, secret } = ctx.oidc.params;
      if (id !== robot.id || secret !== robot.secret)
        throw new errors.InvalidGrant("invalid robot credentials");
      const token = new provider!.ClientCredentials({ client: ctx.oidc.client, scope: "reports:read" });
      ctx.body = {
        access_token: await token.save(),
        token_type: "Bearer",
        expires_in: token.expiration,
        scope: "reports:read",
      };
    },
    ["id", "secret", "realm_id"],
  );

  // The API, for valid bearer tokens only.
  const api = await listen(async (request, response) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    // A failed introspection answers 502 (never an unhandled rejection that would end the process).
    const introspection = token
      ? ((await fetch(`${auth.url}/token/introspection`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token, client_id: site.clientId, client_secret: site.clientSecret }),
        })
          .then((answer) => answer.json())
          .catch(() => undefined)) as
          | { active: boolean; sub?: string; exp?: number; client_id?: string; scope?: string }
          | undefined)
      : { active: false };
    const send = (status: number, body: unknown) => {
      response.writeHead(status, {
        "content-type": "application/json",
        "cache-control": "no-store",
        ...(status === 401 ? { "www-authenticate": 'Bearer error="invalid_token"' } : {}),
      });
      response.end(JSON.stringify(body));
    };
    if (introspection === undefined) return send(502, { error: "introspection_failed" });
    if (!introspection.active) return send(401, { error: "invalid_token" });
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path === "/reports") {
      return send(200, { report: "quarterly", for: introspection.client_id, scope: introspection.scope });
    }
    const sub = introspection.sub ?? "unknown";
    if (path === "/me") return send(200, { sub, name: capitalized(sub), tokenExpiresAt: introspection.exp });
    const item = /^\/items\/(\d+)$/.exec(path);
    if (item) return send(200, { id: Number(item[1]), owner: sub, title: `Item ${item[1]} of ${sub}` });
    send(404, { error: "not_found" });
  });

  const pat = await startPatServer({ store: createSqliteStore({ path: options.patDatabase ?? ":memory:" }) });
  const admin =
    options.bootstrapPatAdmin === false
      ? undefined
      : await pat.issueToken({ owner: "admin@tokenkeep.example", isAdmin: true });

  return {
    issuer: auth.url,
    clientId: site.clientId,
    clientSecret: site.clientSecret,
    service,
    robot,
    apiUrl: api.url,
    patUrl: pat.url,
    patAdminToken: admin?.token,
    counters,
    close: async () => {
      await Promise.all([close(api.server), close(auth.server), pat.close()]);
      await pat.store.close();
    },
  };
}
