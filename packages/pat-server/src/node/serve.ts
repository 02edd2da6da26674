import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { DEFAULT_HOSTNAME } from "../defaults";
import type { RequestContext } from "../pat-handler";

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
  /** Connections closing after an answer to a request whose body was not read. */
  const lingering = new Set<Socket>();
  const server = createServer((req, res) => {
    void respond(handler, req, res, origin, lingering);
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
        for (const socket of lingering) socket.destroy();
      });
      return closing;
    },
  };
}

/**
 * How long a connection whose request body was not read keeps discarding what the client still sends
 * after our answer and our FIN, before it is destroyed. Closing at once would reset the connection
 * (unread bytes make the kernel answer with RST), and the client could lose our answer.
 */
const LINGER_MS = 2000;

/**
 * The request body as a web stream that reads from `req` on demand. Cancelling it (the handler stops
 * reading, say at `maxBodyBytes`) only stops reading: unlike `Readable.toWeb`, it does not destroy the
 * request and with it the socket before the answer is written.
 */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let detach = () => {};
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const onData = (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk)); // a copy: the handler may keep it past this tick
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        };
        const onEnd = () => {
          detach();
          controller.close();
        };
        const onError = (error: Error) => {
          detach();
          controller.error(error);
        };
        detach = () => {
          req.off("data", onData);
          req.off("end", onEnd);
          req.off("error", onError);
        };
        req.on("data", onData);
        req.on("end", onEnd);
        req.on("error", onError);
        req.pause();
      },
      pull() {
        req.resume();
      },
      cancel() {
        // What still arrives is discarded once the answer is written (see `respond`).
        detach();
        req.pause();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
}

/**
 * Closes the connection after the answer without resetting it: Node calls `destroySoon` once a
 * `Connection: close` answer is written; here it sends FIN, then discards what the client still sends
 * (the rest of the body, pipelined requests) until the client closes too, or {@link LINGER_MS}.
 */
function closeAfterAnswer(req: IncomingMessage, socket: Socket, lingering: Set<Socket>): void {
  lingering.add(socket);
  socket.destroySoon = () => {
    socket.end();
    req.resume();
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once("end", () => socket.destroy());
    socket.once("close", () => {
      clearTimeout(timer);
      lingering.delete(socket);
    });
  };
}

function toRequest(req: IncomingMessage, origin: string): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(`${origin}${req.url}`, {
    method,
    headers,
    ...(hasBody && { body: bodyStream(req), duplex: "half" }),
  } as RequestInit);
}

async function respond(
  handler: ServableHandler,
  req: IncomingMessage,
  res: ServerResponse,
  origin: string,
  lingering: Set<Socket>,
): Promise<void> {
  if (lingering.has(req.socket)) {
    // A request pipelined behind one we answered with `Connection: close`: it is never answered.
    req.resume();
    return;
  }
  try {
    const response = req.url?.startsWith("/")
      ? await handler(toRequest(req, origin), { clientAddress: req.socket.remoteAddress })
      : new Response(JSON.stringify({ error: { message: "Bad request target" } }), {
          status: 400,
          headers: { "content-type": "application/json" },
        });
    res.statusCode = response.status;
    for (const [name, value] of response.headers) res.setHeader(name, value);
    const body = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
    // The handler answered before the whole body arrived (413, or a 401/404/415 that never reads it):
    // the connection cannot carry another request, so say so, and close it once the answer is out.
    if (!req.complete) {
      res.setHeader("connection", "close");
      closeAfterAnswer(req, req.socket, lingering);
    } else {
      req.resume(); // a body left unread in the buffer must not hold back the next request
    }
    res.end(body);
  } catch {
    if (!res.headersSent) {
      res.statusCode = 500;
      res.setHeader("content-type", "application/json");
      if (!req.complete) {
        res.setHeader("connection", "close");
        closeAfterAnswer(req, req.socket, lingering);
      }
      res.end(JSON.stringify({ error: { message: "Internal server error" } }));
    } else {
      res.destroy();
    }
  }
}
