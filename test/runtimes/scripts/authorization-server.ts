/**
 * The authorization server every runtime talks to: oidc-provider (a certified OpenID provider) on
 * 127.0.0.1, port 0, with one confidential client allowed `client_credentials` and `refresh_token`,
 * refresh tokens rotated on every use, and CORS open so the browser page may call it.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Adapter, type AdapterPayload } from "oidc-provider";

export const CLIENT_ID = "runtime-matrix";
/** Reserved characters on purpose: grants must form-url-encode them before Base64 (RFC 6749 2.3.1). */
export const CLIENT_SECRET = "s3cret:with%reserved+chars";

/** A client that authenticates with `private_key_jwt` (ES256); its private JWK goes to the runtimes. */
export const PRIVATE_KEY_JWT_CLIENT_ID = "runtime-matrix-pkjwt";
/** A client that authenticates with `client_secret_jwt` (HS256). */
export const CLIENT_SECRET_JWT_CLIENT_ID = "runtime-matrix-hmac";
export const CLIENT_SECRET_JWT_SECRET = "hmac-secret-of-the-runtime-matrix-0123456789";
const assertionKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
export const PRIVATE_KEY_JWT_KEY = { ...assertionKey.privateKey.export({ format: "jwk" }), kid: "matrix-1" };

/** What the orchestrator needs from the authorization server. */
export interface AuthorizationServer {
  issuer: string;
  tokenUrl: string;
  /** Mints a fresh refresh token (one grant per call) that the refresh-token scenario redeems. */
  mintRefreshToken(): Promise<string>;
  /** Whether `token` is a live client-credentials access token this server issued. */
  isClientCredentialsToken(token: string): Promise<boolean>;
  /** The `jkt` a live client-credentials token is bound to (DPoP), if any. */
  boundThumbprint(token: string): Promise<string | undefined>;
  close(): Promise<void>;
}

/** oidc-provider's storage, kept in a plain map (its built-in one prints a development warning). */
function memoryAdapter(): new (model: string) => Adapter {
  const entries = new Map<string, AdapterPayload>();
  return class MemoryAdapter implements Adapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }
    key(id: string): string {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: AdapterPayload): Promise<void> {
      entries.set(this.key(id), payload);
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      return entries.get(this.key(id));
    }
    async findByUserCode(): Promise<AdapterPayload | undefined> {
      return undefined;
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      for (const [key, payload] of entries) {
        if (key.startsWith(`${this.model}:`) && payload.uid === uid) return payload;
      }
      return undefined;
    }
    async consume(id: string): Promise<void> {
      const payload = entries.get(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      entries.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, payload] of entries) {
        if (payload.grantId === grantId) entries.delete(key);
      }
    }
  };
}

/** Starts the server; close it with `close()`. */
export async function startAuthorizationServer(): Promise<AuthorizationServer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const provider = new Provider(issuer, {
    adapter: memoryAdapter(),
    jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), alg: "ES256", use: "sig" }] },
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ["client_credentials", "refresh_token"],
        response_types: [],
        redirect_uris: [],
        id_token_signed_response_alg: "ES256",
      },
      {
        client_id: PRIVATE_KEY_JWT_CLIENT_ID,
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [{ ...assertionKey.publicKey.export({ format: "jwk" }), kid: "matrix-1" }] },
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        id_token_signed_response_alg: "ES256",
      },
      {
        client_id: CLIENT_SECRET_JWT_CLIENT_ID,
        client_secret: CLIENT_SECRET_JWT_SECRET,
        token_endpoint_auth_method: "client_secret_jwt",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        id_token_signed_response_alg: "ES256",
      },
    ],
    features: {
      clientCredentials: { enabled: true },
      // RFC 7662, for the introspection scenario: a client may ask about its own tokens.
      introspection: {
        enabled: true,
        allowedPolicy: (_context, client, token) => token.clientId === client.clientId,
      },
      devInteractions: { enabled: false },
      // Every DPoP token request must carry a server nonce: each runtime meets the challenge.
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
    },
    clientBasedCORS: () => true,
    rotateRefreshToken: true,
    findAccount: (_context, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    ttl: { AccessToken: 300, ClientCredentials: 300, RefreshToken: 3600, Grant: 3600 },
  });
  server.on("request", provider.callback());
  const client = await provider.Client.find(CLIENT_ID);
  if (!client) throw new Error("oidc-provider lost its client");

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    async mintRefreshToken() {
      const grant = new provider.Grant({ accountId: "matrix-user", clientId: CLIENT_ID });
      grant.addOIDCScope("offline_access");
      const grantId = await grant.save();
      const refreshToken = new provider.RefreshToken({
        accountId: "matrix-user",
        client,
        grantId,
        gty: "matrix",
        scope: "offline_access",
      });
      return refreshToken.save();
    },
    async isClientCredentialsToken(token) {
      const found = await provider.ClientCredentials.find(token);
      return found !== undefined && !found.isExpired;
    },
    async boundThumbprint(token) {
      const found = await provider.ClientCredentials.find(token);
      return found === undefined || found.isExpired ? undefined : (found.jkt as string | undefined);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
