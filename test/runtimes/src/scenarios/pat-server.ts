/**
 * `@tokenkeep/pat-server`'s root entry (the Web-standard handler) on its memory store, called in
 * process the way `Deno.serve`, `Bun.serve` or a Worker's `fetch` would call it: it loads and answers
 * in every row. Where the runtime provides `node:crypto` (found at run time, never imported), the whole
 * PAT round trip runs too: a token issued into the store, exchanged for a JWT, the JWT accepted by an
 * admin route and by `handler.authenticate`.
 */
import { createMemoryStore, createPatHandler, issueToken } from "@tokenkeep/pat-server";
import { assert, assertEqual, type MatrixConfig } from "../harness.ts";

/**
 * Rows whose runtime provides `node:crypto` (scrypt): Node, Deno, Bun, and workerd with its default
 * `nodejs_compat`. Listed, not detected, so a runtime that lost it fails instead of skipping.
 */
const WITH_NODE_CRYPTO = new Set(["node22", "node24", "deno", "bun", "workerd-compat"]);

/** Cheap scrypt: the scenario proves the code paths, not the cost. */
const scryptLog2Cost = 4;

export async function patServerHandler(config: MatrixConfig): Promise<void> {
  const errors: string[] = [];
  const store = createMemoryStore();
  const handler = createPatHandler({
    store,
    scryptLog2Cost,
    lastUsedFlushMs: 0,
    onError: ({ error }) => errors.push(error instanceof Error ? error.message : String(error)),
  });
  const call = (path: string, init?: RequestInit) =>
    handler(new Request(`http://pat.test${path}`, init), { clientAddress: "2001:db8::7" });

  const health = await call("/healthz");
  assertEqual(health.status, 200, "GET /healthz");
  assertEqual(health.headers.get("content-type"), "application/json", "content type");
  assertEqual(((await health.json()) as { status: string }).status, "ok", "health status");
  const jwks = (await (await call("/.well-known/jwks.json")).json()) as {
    keys: { kid?: string; d?: string }[];
  };
  assert(jwks.keys.length === 1 && jwks.keys[0]!.kid && !jwks.keys[0]!.d, "one public key with a kid");
  const missing = await call("/nowhere");
  assertEqual(missing.status, 404, "unknown route");
  assertEqual(
    ((await missing.json()) as { error: { message: string } }).error.message,
    "Not found",
    "error body",
  );
  assertEqual((await call("/admin/tokens")).status, 401, "admin route without a JWT");

  if (!WITH_NODE_CRYPTO.has(config.runtime)) {
    // No scrypt here: an exchange is a 500 whose onError says why, and nothing else breaks.
    const exchange = await call("/auth/token", {
      method: "POST",
      headers: { authorization: `Bearer pat_${"A".repeat(21)}.${"A".repeat(43)}=` },
    });
    assertEqual(exchange.status, 500, "exchange without node:crypto");
    assert(
      errors.some((message) => message.includes("node:crypto")),
      "onError names node:crypto",
    );
    return;
  }

  const issued = await issueToken(
    store,
    { owner: "matrix", isAdmin: true, roles: ["ops"] },
    { scryptLog2Cost },
  );
  assert(issued !== undefined, "token issued");
  const exchanged = await call("/auth/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_secret: issued.token }),
  });
  assertEqual(exchanged.status, 200, `exchange (${errors.join("; ")})`);
  const { access_token: jwt, token_type } = (await exchanged.json()) as {
    access_token: string;
    token_type: string;
  };
  assertEqual(token_type, "Bearer", "token type");
  // Returning client: served by the verifier cache.
  assertEqual(
    (await call("/auth/token", { method: "POST", headers: { authorization: `Bearer ${issued.token}` } }))
      .status,
    200,
    "second exchange",
  );
  const wrong = `${issued.token.slice(0, -4)}AAA=`;
  assertEqual(
    (await call("/auth/token", { method: "POST", headers: { authorization: `Bearer ${wrong}` } })).status,
    401,
    "wrong secret",
  );

  const listed = await call("/admin/tokens", { headers: { authorization: `Bearer ${jwt}` } });
  assertEqual(listed.status, 200, "admin list with the JWT");
  const { records } = (await listed.json()) as { records: { tokenId: string; lastUsedAt: number | null }[] };
  assertEqual(records.length, 1, "records");
  assertEqual(records[0]!.tokenId, issued.record.tokenId, "listed token id");
  const auth = await handler.authenticate(
    new Request("http://pat.test/reports", { headers: { authorization: `Bearer ${jwt}` } }),
    { role: "ops" },
  );
  assert(auth.ok && auth.claims.owner === "matrix", "handler.authenticate accepts the JWT for role ops");
  await handler.close();
  assertEqual(errors.length, 0, `unexpected errors: ${errors.join("; ")}`);
}
