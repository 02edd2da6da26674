import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { DEFAULT_HOSTNAME } from "./defaults";

/** Per-request facts a host passes to the handler next to the `Request`. */
export interface RequestContext {
  /** The client's address as the host saw it (the socket's remote address under `serve`). */
  readonly clientAddress?: string | undefined;
}

/** What {@link serve} can serve: any Request/Response handler; it also receives the client address. */
export type ServableHandler = (request: Request, context: RequestContext) => Promise<Response>;

/** Options of {@link serve}. */
export interface ServeOptions {
  /**
   * Port to listen on; 0 picks a free one (tests).
   * @default 0
   */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly hostname?: string;
}

/** A running server. */
export interface ServedHandler {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** The underlying `node:http` server. */
  readonly server: Server;
  /** Stops accepting connections, lets in-flight requests finish, closes idle keep-alive sockets. */
  close(): Promise<void>;
}

/**
 * Serves a `(request: Request) => Promise<Response>` handler with `node:http`. The socket address of
 * each request is passed as `context.clientAddress` (the PAT handler's rate limit key), never taken
 * from a header.
 */
export async function serve(handler: ServableHandler, options: ServeOptions = {}): Promise<ServedHandler> {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  let origin = "";
  const server = createServer((req, res) => {
    void respond(handler, req, res, origin);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  origin = `http://${host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url: origin,
    port,
    server,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

async function respond(
  handler: ServableHandler,
  req: IncomingMessage,
  res: ServerResponse,
  origin: string,
): Promise<void> {
  try {
    if (!req.url?.startsWith("/")) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "Bad request target" } }));
      return;
    }
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    const method = req.method ?? "GET";
    const hasBody = method !== "GET" && method !== "HEAD";
    const request = new Request(`${origin}${req.url}`, {
      method,
      headers,
      ...(hasBody && { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" }),
    } as RequestInit);
    const response = await handler(request, { clientAddress: req.socket.remoteAddress });
    res.statusCode = response.status;
    for (const [name, value] of response.headers) res.setHeader(name, value);
    const body = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
    res.end(body);
  } catch {
    if (!res.headersSent) {
      res.statusCode = 500;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ error: { message: "Internal server error" } }));
    } else {
      res.destroy();
    }
  }
}
