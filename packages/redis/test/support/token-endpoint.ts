import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

/** One request the counting endpoint received. */
export interface EndpointRequest {
  readonly worker: string | undefined;
  readonly at: number;
}

export interface CountingTokenEndpoint {
  readonly url: string;
  readonly requests: EndpointRequest[];
  /** Called for every request; return `false` to leave it unanswered (a hung server). */
  onRequest: (request: EndpointRequest, index: number) => boolean;
  close(): Promise<void>;
}

/**
 * A token endpoint on 127.0.0.1 (port 0) that counts the requests it gets, tells which worker sent
 * each (`x-worker` header), and answers `{ access_token: "at-<n>", expires_in }`. It is the witness
 * for "one token request across every process"; no authorization server counts this precisely.
 */
export async function startCountingTokenEndpoint(expiresInS: number): Promise<CountingTokenEndpoint> {
  const hung: ServerResponse[] = [];
  let issued = 0;
  const endpoint: CountingTokenEndpoint = {
    url: "",
    requests: [],
    onRequest: () => true,
    async close() {
      for (const response of hung) response.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    const entry = { worker: request.headers["x-worker"] as string | undefined, at: Date.now() };
    endpoint.requests.push(entry);
    if (!endpoint.onRequest(entry, endpoint.requests.length - 1)) {
      hung.push(response);
      return;
    }
    issued++;
    response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    response.end(
      JSON.stringify({ access_token: `at-${issued}`, token_type: "Bearer", expires_in: expiresInS }),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return Object.assign(endpoint, { url: `http://127.0.0.1:${port}/token` });
}
