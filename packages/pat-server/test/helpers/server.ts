import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerSecret } from "../../../../test/reliability/src/secret-registry";
import type { PatHandlerOptions } from "../../src/handler-options";
import { serve } from "../../src/node/serve";
import { createPatHandler, type PatHandler } from "../../src/pat-handler";
import { createPostgresStore } from "../../src/postgres/postgres-store";
import { createSqliteStore } from "../../src/sqlite/sqlite-store";
import type { PatStore } from "../../src/store";
import { type IssuedToken, type IssueTokenInput, issueToken } from "../../src/token-service";
import { dropSchema, pgSkipReason, pgUrl, uniqueSchema } from "./postgres";

export type StoreKind = "sqlite" | "postgres";

/** A fresh store of the given kind and how to dispose of it. */
export function openStore(kind: StoreKind): {
  store: PatStore;
  open: () => PatStore;
  cleanup: () => Promise<void>;
} {
  if (kind === "postgres") {
    const schema = uniqueSchema();
    const open = () => createPostgresStore({ connectionString: pgUrl!, schema, maxConnections: 8 });
    return { store: open(), open, cleanup: () => dropSchema(schema) };
  }
  const dir = mkdtempSync(join(tmpdir(), "tk-pat-http-"));
  const open = () => createSqliteStore({ path: join(dir, "tokens.db") });
  return { store: open(), open, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** Cheap scrypt for tests (N = 2^10); one test checks the production cost separately. */
export const TEST_SCRYPT_LOG2_COST = 10;

export interface TestServer {
  url: string;
  store: PatStore;
  handler: PatHandler;
  adminToken: string;
  issue(input: IssueTokenInput): Promise<IssuedToken>;
  /** Exchanges a PAT and returns the JWT. */
  jwtFor(token: string): Promise<string>;
  /** Fetch with the admin JWT. */
  admin(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** A handler on a real store, served on 127.0.0.1:0, with one admin token. */
export async function startTestServer(
  kind: StoreKind,
  options: Partial<PatHandlerOptions> = {},
): Promise<TestServer> {
  const { store, cleanup } = openStore(kind);
  const handler = createPatHandler({
    scryptLog2Cost: TEST_SCRYPT_LOG2_COST,
    rateLimit: false,
    lastUsedFlushMs: 50,
    ...options,
    store,
  });
  const served = await serve(handler);
  const issue = async (input: IssueTokenInput) => {
    const issued = await issueToken(store, input, {
      scryptLog2Cost: TEST_SCRYPT_LOG2_COST,
      prefix: options.tokenPrefix,
    });
    if (!issued) throw new Error("duplicate");
    registerSecret(issued.token, "PAT");
    return issued;
  };
  const { token: adminToken } = await issue({ owner: "admin", isAdmin: true });
  const jwtFor = async (token: string) => {
    const response = await fetch(`${served.url}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_secret: token }),
    });
    if (response.status !== 200) throw new Error(`exchange failed: ${response.status}`);
    return registerSecret(((await response.json()) as { access_token: string }).access_token, "JWT");
  };
  let adminJwt: string | undefined;
  return {
    url: served.url,
    store,
    handler,
    adminToken,
    issue,
    jwtFor,
    async admin(path, init = {}) {
      adminJwt ??= await jwtFor(adminToken);
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set("authorization", `Bearer ${adminJwt}`);
      if (json !== undefined) headers.set("content-type", "application/json");
      return fetch(`${served.url}${path}`, {
        ...rest,
        headers,
        ...(json !== undefined && { body: JSON.stringify(json) }),
      });
    },
    async close() {
      await served.close();
      await handler.close();
      await store.close();
      await cleanup();
    },
  };
}

/** Every record in the store (revoked, expired and hashes included), for "unchanged" assertions. */
export async function snapshot(store: PatStore) {
  return store.list({ includeRevoked: true, includeExpired: true, limit: 100_000, nowSeconds: 0 });
}

/** The store kinds a suite runs on: PostgreSQL too unless skipped (see {@link pgSkipReason}). */
export function storeKindsFor(suite: string): StoreKind[] {
  return pgSkipReason(suite) ? ["sqlite"] : ["sqlite", "postgres"];
}
