import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { onTestFinished } from "vitest";

/** What the proxy does with one request, after reading its whole body. */
export type Fault =
  /** Forward it to the real server. */
  | "pass"
  /** Destroy the connection without answering (the request did reach the server side). */
  | "drop"
  /** Forward it, let the real server process it, then destroy the connection instead of answering. */
  | "forward-then-drop"
  /** Never answer (until the proxy closes). */
  | "hang"
  /** Answer this status and headers without forwarding. */
  | { status: number; headers?: Record<string, string>; body?: string };

/**
 * A `node:http` proxy on 127.0.0.1 in front of a real server, injecting faults: `decide` is called for
 * each request (after its body has been read) and says whether to forward, drop or answer it.
 */
export async function startFaultProxy(
  target: string,
  decide: (request: { method: string; path: string; count: number }) => Fault,
): Promise<{ url: string; seen: Map<string, number> }> {
  const seen = new Map<string, number>();
  const upstream = new URL(target);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!;
      const key = `${req.method} ${path}`;
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      const fault = decide({ method: req.method ?? "GET", path, count });
      if (fault === "hang") return;
      if (fault === "drop") {
        req.socket.destroy();
        return;
      }
      if (typeof fault === "object") {
        res.writeHead(fault.status, { "content-type": "application/json; charset=utf-8", ...fault.headers });
        res.end(fault.body ?? JSON.stringify({ error: { message: "Injected fault" } }));
        return;
      }
      const forward = httpRequest(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          if (fault === "forward-then-drop") {
            answer.resume();
            answer.on("end", () => req.socket.destroy());
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${port}`, seen };
}
