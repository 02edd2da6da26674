import { createServer } from "node:http";
import { listenForTest } from "./listen";

/** A record as the original server stores it: optional fields absent or explicitly `null`. */
export type OriginalRecord = Record<string, unknown> & { tokenId: string; revokedAt?: number | null };

/**
 * A server on 127.0.0.1 answering `POST /auth/token` and `GET /admin/tokens` the way the original
 * `@access-tokens/express` does, as the protocol reference records it: `application/json;
 * charset=utf-8`, records in storage order (not sorted), `afterTokenId` resuming that order, `limit`
 * applied **before** revoked records are filtered out, and no `nextAfterTokenId`.
 */
export async function startOriginalLikeServer(records: readonly OriginalRecord[]): Promise<{ url: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "POST" && url.pathname === "/auth/token") {
      req.resume();
      return send(200, { access_token: "e30.e30.original", token_type: "Bearer", expires_in: 3600 });
    }
    if (req.method === "GET" && url.pathname === "/admin/tokens") {
      const after = url.searchParams.get("afterTokenId");
      const start = after === null ? 0 : records.findIndex((record) => record.tokenId === after) + 1;
      const limit = Number(url.searchParams.get("limit") ?? 100);
      const includeRevoked = url.searchParams.get("includeRevoked") === "true";
      const window = records.slice(start, start + limit);
      return send(200, { records: window.filter((record) => includeRevoked || record.revokedAt == null) });
    }
    send(404, { error: { message: "Not found" } });
  });
  return { url: await listenForTest(server) };
}
