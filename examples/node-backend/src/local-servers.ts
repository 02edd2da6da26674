// The servers the example starts for itself when no TOKEN_URL is given: a real OpenID provider
// (oidc-provider) issuing short-lived client credentials tokens, and a protected API that checks
// every bearer token with the provider's introspection endpoint (RFC 7662). Both listen on 127.0.0.1.
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { MemoryAdapter, signingKeys } from "./provider-storage.ts";

export interface LocalServers {
  readonly issuer: string;
  readonly apiUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
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

export async function startLocalServers(tokenLifetimeS: number): Promise<LocalServers> {
  const clientId = "node-backend-demo";
  const clientSecret = `demo-${crypto.randomUUID()}`;

  let provider: Provider | undefined;
  const auth = await listen((request, response) => provider?.callback()(request, response));
  provider = new Provider(auth.url, {
    adapter: MemoryAdapter,
    jwks: signingKeys(),
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        scope: "reports:read",
      },
    ],
    scopes: ["reports:read"],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: () => true },
    },
    ttl: {
      ClientCredentials: tokenLifetimeS,
      AccessToken: tokenLifetimeS,
      Grant: 60,
      Session: 60,
      Interaction: 60,
    },
  });

  const api = await listen(async (request, response) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    const introspection = token
      ? ((await fetch(`${auth.url}/token/introspection`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token, client_id: clientId, client_secret: clientSecret }),
        }).then((answer) => answer.json())) as { active: boolean; client_id?: string; scope?: string })
      : { active: false };
    if (!introspection.active) {
      response.writeHead(401, {
        "www-authenticate": 'Bearer error="invalid_token"',
        "content-type": "application/json",
      });
      response.end('{"error":"invalid_token"}');
      return;
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({ report: "quarterly", for: introspection.client_id, scope: introspection.scope }),
    );
  });

  return {
    issuer: auth.url,
    apiUrl: api.url,
    clientId,
    clientSecret,
    close: async () => {
      await Promise.all([close(api.server), close(auth.server)]);
    },
  };
}
