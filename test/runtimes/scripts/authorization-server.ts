/**
 * The authorization server every runtime talks to: oidc-provider (a certified OpenID provider) on
 * 127.0.0.1, port 0, with one confidential client allowed `client_credentials` and `refresh_token`,
 * refresh tokens rotated on every use, and CORS open so the browser page may call it.
 *
 * Every secret the runtimes are handed (client secrets, the private JWK, refresh tokens) and every
 * token the server answers with is registered here, in the parent process: the runtimes are
 * children, and only this process writes `test-secrets.jsonl` (secret-registry.ts).
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Adapter, type AdapterPayload } from "oidc-provider";
import { mintSecret, registerSecret } from "../../reliability/src/secret-registry.ts";

export const CLIENT_ID = "runtime-matrix";
/** Reserved characters on purpose: grants must form-url-encode them before Base64 (RFC 6749 2.3.1). */
export const CLIENT_SECRET = mintSecret("client secret", { prefix: "s3cret:with%reserved+chars-" });

/** A client that authenticates with `private_key_jwt` (ES256); its private JWK goes to the runtimes. */
export const PRIVATE_KEY_JWT_CLIENT_ID = "runtime-matrix-pkjwt";
/** A client that authenticates with `client_secret_jwt` (HS256). */
export const CLIENT_SECRET_JWT_CLIENT_ID = "runtime-matrix-hmac";
export const CLIENT_SECRET_JWT_SECRET = mintSecret("client secret", {
  prefix: "hmac-secret-of-the-runtime-matrix-",
});
/** A wrong client secret for the OAuth error scenario, which checks that it never shows. */
export const WRONG_CLIENT_SECRET = mintSecret("wrong client secret", {
  prefix: "wrong-secret-must-not-leak-",
});
const assertionKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
export const PRIVATE_KEY_JWT_KEY = { ...assertionKey.privateKey.export({ format: "jwk" }), kid: "matrix-1" };
registerSecret(PRIVATE_KEY_JWT_KEY.d!, "private key (JWK d)");

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
  registerSecret(privateKey.export({ format: "jwk" }).d!, "signing key (JWK d)");
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
  // Every token the server answers with, to any runtime, is registered as it leaves, and so is every
  // JWT a runtime authenticates with (a client assertion, a DPoP proof).
  provider.use(async (ctx, next) => {
    const proof = ctx.get("dpop");
    if (proof.length > 0) registerSecret(proof, "DPoP proof");
    await next();
    const assertion = (ctx.oidc?.params as Record<string, unknown> | undefined)?.client_assertion;
    if (typeof assertion === "string" && assertion.length > 0) registerSecret(assertion, "client assertion");
    const body = ctx.body as Record<string, unknown> | undefined;
    for (const field of ["access_token", "refresh_token", "id_token"]) {
      const token = body?.[field];
      if (typeof token === "string" && token.length > 0) registerSecret(token, field.replace("_", " "));
    }
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
      return registerSecret(await refreshToken.save(), "refresh token");
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
