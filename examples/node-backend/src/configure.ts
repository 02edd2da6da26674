// Where the example's token and API come from: the servers the environment names (TOKEN_URL,
// CLIENT_ID, CLIENT_SECRET, API_URL, SCOPE), or else local ones it starts for itself.
import type { ClientCredentialsGrantOptions } from "@tokenkeep/grants";

export interface Configuration {
  readonly grant: ClientCredentialsGrantOptions;
  readonly apiUrl: string;
  /** What was started locally, for a log line; `undefined` when the environment named the servers. */
  readonly local: { readonly issuer: string } | undefined;
  close(): Promise<void>;
}

export async function configure(tokenLifetimeS: number): Promise<Configuration> {
  const { TOKEN_URL, CLIENT_ID, CLIENT_SECRET, API_URL, SCOPE } = process.env;
  if (TOKEN_URL) {
    if (!CLIENT_ID || !CLIENT_SECRET || !API_URL) {
      throw new Error("with TOKEN_URL, also set CLIENT_ID, CLIENT_SECRET and API_URL");
    }
    return {
      grant: { tokenUrl: TOKEN_URL, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, scope: SCOPE },
      apiUrl: API_URL,
      local: undefined,
      close: async () => {},
    };
  }
  const { startLocalServers } = await import("@tokenkeep/example-local-servers");
  const servers = await startLocalServers({
    serviceTokenLifetimeS: tokenLifetimeS,
    bootstrapPatAdmin: false,
  });
  return {
    grant: {
      issuer: servers.issuer,
      clientId: servers.service.clientId,
      clientSecret: servers.service.clientSecret,
      scope: "reports:read",
    },
    apiUrl: `${servers.apiUrl}/reports`,
    local: { issuer: servers.issuer },
    close: servers.close,
  };
}
