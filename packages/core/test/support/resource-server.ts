import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the resource server saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

/** A resource server on 127.0.0.1 (port 0) that accepts the bearer tokens in `valid`. */
export interface ResourceServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly seen: SeenRequest[];
  /** Access tokens this server accepts; delete one to make it answer 401. */
  readonly valid: Set<string>;
  /** Route overrides: path -> handler (runs instead of the token check). */
  readonly routes: Map<string, (request: IncomingMessage, response: ServerResponse) => void>;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Starts a resource server; close it with `await using` or `close()`. */
export async function startResourceServer(): Promise<ResourceServer> {
  const seen: SeenRequest[] = [];
  const valid = new Set<string>();
  const routes = new Map<string, (request: IncomingMessage, response: ServerResponse) => void>();
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    const path = request.url ?? "/";
    const authorization = request.headers.authorization;
    seen.push({ method: request.method ?? "GET", path, authorization, body });
    const route = routes.get(path);
    if (route) return route(request, response);
    const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined;
    if (token === undefined || !valid.has(token)) {
      response.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' });
      return response.end("unauthorized");
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ ok: true, path, body }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((error) => (error ? reject(error) : resolve()));
    });
  return { origin: `http://127.0.0.1:${port}`, seen, valid, routes, close, [Symbol.asyncDispose]: close };
}
