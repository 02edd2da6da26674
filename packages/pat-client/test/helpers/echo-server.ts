import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { onTestFinished } from "vitest";

/**
 * A `node:http` server on 127.0.0.1 that answers every request with an error quoting the raw request
 * body (as some servers and proxies do): `{ error: { message: "invalid request: <body>" } }`, with the
 * status `statusOf(count)` gives for the count-th request and `Retry-After: 0` (a retry follows at
 * once). Closed when the test finishes.
 */
export async function startEchoServer(statusOf: (count: number) => number): Promise<{ url: string }> {
  let count = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      res.writeHead(statusOf(++count), {
        "content-type": "application/json; charset=utf-8",
        "retry-after": "0",
      });
      res.end(JSON.stringify({ error: { message: `invalid request: ${body}` } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}` };
}
