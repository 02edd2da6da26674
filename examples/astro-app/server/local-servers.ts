// What the example starts for itself when no upstream is configured, all on 127.0.0.1 and free ports:
// - an OpenID provider (oidc-provider) with a password grant, short-lived access tokens, and
//   refresh tokens rotated on every use (presenting a used one revokes the whole grant);
// - the API the site reads, checking each bearer token with the provider's introspection (RFC 7662);
// - a personal access token server on embedded SQLite, with a bootstrapped admin token.
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startPatServer } from "@tokenkeep/pat-server/node";
import Provider, { errors } from "oidc-provider";
import { MemoryAdapter, signingKeys } from "./provider-storage.ts";

/** The demo's users (the sign-in form's hint shows the first). */
export const USERS: Readonly<Record<string, string>> = { alice: "correct horse", bob: "battery staple" };

export interface LocalServers {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly apiUrl: string;
  readonly patUrl: string;
  readonly patAdminToken: string;
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

export async function startLocalServers(accessTokenLifetimeS: number): Promise<LocalServers> {
  const clientId = "astro-app";
  const clientSecret = `demo-${crypto.randomUUID()}`;
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
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ["password", "refresh_token"],
        response_types: [],
        redirect_uris: [],
        scope: "openid offline_access",
      },
    ],
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, name: id.charAt(0).toUpperCase() + id.slice(1) }),
    }),
    claims: { openid: ["sub"], profile: ["name"] },
    scopes: ["openid", "offline_access"],
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true, allowedPolicy: () => true },
      revocation: { enabled: true, allowedPolicy: () => true },
    },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: accessTokenLifetimeS,
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
      const scope = "openid offline_access";
      const grant = new provider!.Grant({ accountId: username, clientId: ctx.oidc.client.clientId });
      grant.addOIDCScope(scope);
      const grantId = await grant.save();
      const common = { accountId: username, client: ctx.oidc.client, grantId, gty: "password", scope };
      const accessToken = new provider!.AccessToken(common);
      const refreshToken = new provider!.RefreshToken(common);
      ctx.body = {
        access_token: await accessToken.save(),
        token_type: "Bearer",
        expires_in: accessToken.expiration,
        refresh_token: await refreshToken.save(),
        scope,
      };
    },
    ["username", "password", "scope"],
  );

  // The API: /me and /items/<n>, for valid bearer tokens only.
  const api = await listen(async (request, response) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    const introspection = token
      ? ((await fetch(`${auth.url}/token/introspection`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token, client_id: clientId, client_secret: clientSecret }),
        }).then((answer) => answer.json())) as { active: boolean; sub?: string; exp?: number })
      : { active: false };
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      response.end(JSON.stringify(body));
    };
    if (!introspection.active) return send(401, { error: "invalid_token" });
    const sub = introspection.sub ?? "unknown";
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path === "/me") {
      return send(200, {
        sub,
        name: sub.charAt(0).toUpperCase() + sub.slice(1),
        tokenExpiresAt: introspection.exp,
      });
    }
    const item = /^\/items\/(\d+)$/.exec(path);
    if (item) return send(200, { id: Number(item[1]), owner: sub, title: `Item ${item[1]} of ${sub}` });
    send(404, { error: "not_found" });
  });

  const pat = await startPatServer();
  const admin = await pat.issueToken({ owner: "admin@astro-app.example", isAdmin: true });

  return {
    issuer: auth.url,
    clientId,
    clientSecret,
    apiUrl: api.url,
    patUrl: pat.url,
    patAdminToken: admin.token,
    counters,
    close: async () => {
      await Promise.all([close(api.server), close(auth.server), pat.close()]);
    },
  };
}
