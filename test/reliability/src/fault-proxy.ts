/**
 * A fault-injecting HTTP proxy on 127.0.0.1, port 0, in front of a real upstream. Each request it
 * receives is numbered from 1; `schedule(n)` says what request `n` gets:
 *
 * - `undefined`: forwarded, and the upstream's answer relayed unchanged;
 * - `"5xx"`: 500, 502, 503 or 504 in turn, a short plain-text body (the upstream is not asked);
 * - `"429"`: 429 with `Retry-After: <retryAfterSeconds>` (the upstream is not asked);
 * - `"html"`: 502 with a load balancer's HTML page (the upstream is not asked);
 * - `"hang"`: the request is read and never answered (the connection stays open);
 * - `"reset"`: forwarded; the answer's headers and half its body are sent, then the TCP connection is
 *   reset (RST);
 * - `"truncated"`: forwarded; the answer is sent as a complete HTTP message whose JSON body is cut
 *   in half (its `content-length` says so, so only the JSON parser can tell);
 * - `"slow"`: forwarded; the answer's headers are sent at once, then its body one byte every
 *   `slowByteMs` (1 s by default).
 *
 * The faults that forward have the upstream issue a token that never reaches the caller: that is
 * what such a fault loses.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault = "5xx" | "429" | "html" | "hang" | "reset" | "truncated" | "slow";

export const FAULTS: readonly Fault[] = ["5xx", "429", "hang", "reset", "truncated", "slow", "html"];

export interface FaultProxyOptions {
  /** The upstream's origin, `http://127.0.0.1:port`. */
  readonly upstream: string;
  /** The fault for request `n` (from 1), or `undefined` to pass it through. */
  readonly schedule: (n: number) => Fault | undefined;
  /** `Retry-After` of the `"429"` answers, in seconds. @default 1 */
  readonly retryAfterSeconds?: number;
  /** Delay between two body bytes of a `"slow"` answer. @default 1000 */
  readonly slowByteMs?: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:port`. */
  readonly url: string;
  /** Requests received, and how many got each fault. */
  readonly requests: number;
  readonly injected: Readonly<Partial<Record<Fault, number>>>;
  close(): Promise<void>;
}

interface Upstream {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function forward(upstream: string, incoming: IncomingMessage, body: Buffer): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const target = new URL(incoming.url ?? "/", upstream);
    const outgoing = httpRequest(
      target,
      { method: incoming.method, headers: { ...incoming.headers, host: target.host } },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("error", reject);
        answer.on("end", () => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(answer.headers)) {
            if (typeof value === "string" && name !== "transfer-encoding" && name !== "connection") {
              headers[name] = value;
            }
          }
          resolve({ status: answer.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

async function readAll(incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const STATUSES_5XX = [500, 502, 503, 504];
const HTML_PAGE =
  "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr><p>nginx</p></body></html>";

/** Starts the proxy. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const slowByteMs = options.slowByteMs ?? 1000;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const injected: Partial<Record<Fault, number>> = {};
  let requests = 0;
  let fivexx = 0;

  const handle = async (incoming: IncomingMessage, outgoing: ServerResponse, fault: Fault | undefined) => {
    const body = await readAll(incoming);
    switch (fault) {
      case "5xx": {
        const status = STATUSES_5XX[fivexx++ % STATUSES_5XX.length]!;
        outgoing.writeHead(status, { "content-type": "text/plain" });
        outgoing.end(`upstream unavailable (${status})`);
        return;
      }
      case "429":
        outgoing.writeHead(429, { "retry-after": String(options.retryAfterSeconds ?? 1) });
        outgoing.end();
        return;
      case "html":
        outgoing.writeHead(502, { "content-type": "text/html; charset=utf-8" });
        outgoing.end(HTML_PAGE);
        return;
      case "hang":
        return; // read, never answered; the socket is destroyed when the client gives up or at close
      default:
        break;
    }
    const answer = await forward(options.upstream, incoming, body);
    if (fault === undefined) {
      outgoing.writeHead(answer.status, answer.headers);
      outgoing.end(answer.body);
    } else if (fault === "truncated") {
      const half = answer.body.subarray(0, Math.floor(answer.body.length / 2));
      outgoing.writeHead(answer.status, { ...answer.headers, "content-length": String(half.length) });
      outgoing.end(half);
    } else if (fault === "reset") {
      outgoing.writeHead(answer.status, { ...answer.headers, "content-length": String(answer.body.length) });
      outgoing.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)), () => {
        outgoing.socket?.resetAndDestroy();
      });
    } else if (fault === "slow") {
      outgoing.writeHead(answer.status, { ...answer.headers, "content-length": String(answer.body.length) });
      let sent = 0;
      const timer = setInterval(() => {
        if (outgoing.destroyed || sent >= answer.body.length) {
          clearInterval(timer);
          timers.delete(timer);
          if (!outgoing.destroyed) outgoing.end();
          return;
        }
        outgoing.write(answer.body.subarray(sent, sent + 1));
        sent++;
      }, slowByteMs);
      timers.add(timer);
      outgoing.on("close", () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    }
  };

  const server = createServer((incoming, outgoing) => {
    requests++;
    const fault = options.schedule(requests);
    if (fault) injected[fault] = (injected[fault] ?? 0) + 1;
    handle(incoming, outgoing, fault).catch(() => outgoing.socket?.resetAndDestroy());
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    injected,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearInterval(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
