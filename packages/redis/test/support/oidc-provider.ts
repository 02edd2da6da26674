import { once } from "node:events";
import { createServer } from "node:http";
import Provider, { errors } from "oidc-provider";
import { mintSecret, registerSecret } from "../../../../test/reliability/src/secret-registry.js";
import { answerWithTokens, onAnsweredTokens } from "../../../grants/test/fixtures/oidc-provider-grants.js";

// The client secret and the password are minted and registered, and so is every token the provider
// answers with (test/reliability/src/secret-registry.ts): the workspace run searches its output for them.
export const CLIENT = { id: "fleet", secret: mintSecret("client secret") } as const;
export const USER = { name: "alice", password: mintSecret("password", { prefix: "alice-" }) } as const;

/** What the provider's token endpoint did with `refresh_token` requests. */
export interface RefreshLedger {
  redeemed: number;
  rejected: number;
  /** Grants revoked by reuse detection. */
  revokedGrants: number;
}

export interface RunningProvider {
  readonly issuer: string;
  readonly tokenUrl: string;
  /** The introspection endpoint (RFC 7662), client authentication by `client_secret_basic`. */
  readonly introspectionUrl: string;
  readonly ledger: RefreshLedger;
  close(): Promise<void>;
}

/**
 * oidc-provider on 127.0.0.1 (port 0) with rotating, reuse-detecting refresh tokens
 * (`rotateRefreshToken: true`: every use rotates; presenting a used one revokes the whole grant).
 * A `password` grant, registered on the provider, issues the first refresh token.
 */
export async function startOidcProvider(
  hooks: {
    /** Called synchronously when a refresh token was redeemed, before the answer is sent. */
    onRefreshSuccess?: () => void;
  } = {},
): Promise<RunningProvider> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        grant_types: ["refresh_token", "password"],
        response_types: [],
        redirect_uris: [],
        scope: "openid offline_access",
      },
    ],
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id }) }),
    // Introspection (RFC 7662): what a rotation coordinator asks about a refresh token in doubt.
    features: { devInteractions: { enabled: false }, introspection: { enabled: true } },
    scopes: ["openid", "offline_access"],
    rotateRefreshToken: true,
    ttl: {
      AccessToken: 300,
      RefreshToken: 3600,
      Grant: 3600,
      IdToken: 3600,
      Session: 3600,
      Interaction: 3600,
    },
  });
  provider.registerGrantType(
    "password",
    async (ctx) => {
      const { username, password } = ctx.oidc.params;
      if (username !== USER.name || password !== USER.password)
        throw new errors.InvalidGrant!("bad credentials");
      await answerWithTokens(provider, ctx, { accountId: username, gty: "password" });
    },
    ["username", "password", "scope"],
  );
  const ledger: RefreshLedger = { redeemed: 0, rejected: 0, revokedGrants: 0 };
  provider.on("grant.success", (ctx) => {
    if (ctx.oidc.params.grant_type === "refresh_token") {
      ledger.redeemed++;
      hooks.onRefreshSuccess?.();
    }
  });
  provider.on("grant.error", (ctx) => {
    if (ctx.oidc.params?.grant_type === "refresh_token") ledger.rejected++;
  });
  provider.on("grant.revoked", () => {
    ledger.revokedGrants++;
  });
  onAnsweredTokens(provider, registerSecret);
  server.on("request", provider.callback());
  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    introspectionUrl: `${issuer}/token/introspection`,
    ledger,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
