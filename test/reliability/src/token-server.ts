/**
 * A real OAuth 2.0 token endpoint: @node-oauth/oauth2-server's client credentials grant behind
 * node:http on 127.0.0.1, port 0. Its client secret is minted by the secret registry, and every
 * access token it issues is registered too, so the sweep would find any of them in the output.
 * It logs one line per request (method, path, status, time; never a header or a body).
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import OAuth2Server, {
  type Client,
  Request,
  Response,
  type Token,
  type User,
} from "@node-oauth/oauth2-server";
import { logLine } from "./output";
import { mintSecret, registerSecret } from "./secrets";

export interface TokenServer {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Requests that reached the token endpoint. */
  readonly requests: number;
  /** Tokens issued (answered with 200), delivered to a caller or not. */
  readonly issued: number;
  /** Whether `accessToken` is a live token this server issued. */
  isActive(accessToken: string): boolean;
  close(): Promise<void>;
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Starts the token endpoint (`POST /token`), tokens valid for `lifetimeSeconds` (default one hour). */
export async function startTokenServer(options: { lifetimeSeconds?: number } = {}): Promise<TokenServer> {
  const clientId = "reliability-client";
  const clientSecret = mintSecret("client secret");
  const client: Client = { id: clientId, grants: ["client_credentials"] };
  const tokens = new Map<string, Token>();
  const oauth = new OAuth2Server({
    accessTokenLifetime: options.lifetimeSeconds ?? 3600,
    model: {
      getClient: async (id: string, secret: string | null) =>
        id === clientId && secret === clientSecret ? client : false,
      getUserFromClient: async () => ({ id: clientId }) as User,
      saveToken: async (token: Token, c: Client, user: User) => {
        registerSecret(token.accessToken, "access token");
        const saved = { ...token, client: c, user };
        tokens.set(token.accessToken, saved);
        return saved;
      },
      getAccessToken: async (accessToken: string) => tokens.get(accessToken) ?? false,
    },
  });
  let requests = 0;
  let issued = 0;
  const server = createServer(async (incoming, outgoing) => {
    const started = Date.now();
    requests++;
    const text = await readText(incoming);
    const request = new Request({
      method: incoming.method ?? "GET",
      headers: incoming.headers as Record<string, string>,
      query: {},
      body: Object.fromEntries(new URLSearchParams(text)),
    });
    const response = new Response();
    try {
      await oauth.token(request, response);
    } catch {
      // the response carries the RFC 6749 error body and status
    }
    const status = response.status ?? 200;
    if (status === 200) issued++;
    outgoing.writeHead(status, { ...response.headers, "content-type": "application/json" });
    outgoing.end(JSON.stringify(response.body));
    logLine("token-server.log", `${incoming.method} ${incoming.url} ${status} ${Date.now() - started}ms`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    tokenUrl: `http://127.0.0.1:${port}/token`,
    clientId,
    clientSecret,
    get requests() {
      return requests;
    },
    get issued() {
      return issued;
    },
    isActive(accessToken) {
      const token = tokens.get(accessToken);
      return token !== undefined && (token.accessTokenExpiresAt?.getTime() ?? 0) > Date.now();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
