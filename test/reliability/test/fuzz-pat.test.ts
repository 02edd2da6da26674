/**
 * Fuzzing the PAT packages: pat-protocol's PAT strings, PHC strings and list query schema; and
 * pat-server's HTTP routes (random methods, paths, queries, headers and bodies, some with a valid
 * admin JWT so they reach the store) against `createPatHandler` on a memory store: never a 5xx, never
 * a thrown error, never a changed store after a 4xx. Seeds: see src/fuzz.ts.
 */
import {
  formatPat,
  formatScryptPhc,
  listTokensQuerySchema,
  MAX_LIST_LIMIT,
  PAT_SECRET_PATTERN,
  parsePat,
  parseScryptPhc,
  scryptPhcSchema,
  TOKEN_ID_PATTERN,
  toListTokensSearchParams,
} from "@tokenkeep/pat-protocol";
import { createMemoryStore, createPatHandler, issueToken, type PatHandler } from "@tokenkeep/pat-server";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { check } from "../src/fuzz";
import { dumpError, logLine } from "../src/output";
import { registerSecret } from "../src/secrets";

const base64Char = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
const alnum = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
const tokenId = fc.string({ unit: alnum, minLength: 21, maxLength: 21 });
const secret = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((bytes) => Buffer.from(bytes).toString("base64"));

describe("pat-protocol", () => {
  it("parsePat: a formatted PAT parses back; anything else is refused with a reason, never a throw", async () => {
    await check(
      "parsePat",
      fc.property(
        fc.oneof(
          fc.string(),
          fc.tuple(tokenId, secret).map(([id, s]) => formatPat(id, s)),
          fc
            .tuple(tokenId, secret, fc.nat({ max: 70 }), fc.string({ maxLength: 3 }))
            .map(([id, s, at, insert]) => {
              const pat = formatPat(id, s);
              return pat.slice(0, at) + insert + pat.slice(at);
            }),
          fc.string({ unit: base64Char, maxLength: 80 }).map((text) => `pat_${text}`),
        ),
        (text) => {
          const parsed = parsePat(text);
          if (parsed.ok) {
            expect(TOKEN_ID_PATTERN.test(parsed.tokenId)).toBe(true);
            expect(PAT_SECRET_PATTERN.test(parsed.secret)).toBe(true);
            expect(formatPat(parsed.tokenId, parsed.secret)).toBe(text);
          } else {
            expect(["invalid_prefix", "invalid_format"]).toContain(parsed.reason);
          }
        },
      ),
    );
  });

  it("parseScryptPhc: round-trips what it accepts, agrees with its schema, never throws", async () => {
    const phc = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.nat({ max: 120 }),
          fc.nat({ max: 120 }),
          fc.nat({ max: 120 }),
          fc.string({ unit: base64Char, maxLength: 40 }),
          fc.string({ unit: base64Char, maxLength: 90 }),
        )
        .map(([ln, r, p, salt, hash]) => `$scrypt$ln=${ln},r=${r},p=${p}$${salt}$${hash}`),
    );
    await check(
      "parseScryptPhc",
      fc.property(phc, (text) => {
        const parsed = parseScryptPhc(text);
        expect(scryptPhcSchema.safeParse(text).success).toBe(parsed !== undefined);
        if (parsed) expect(formatScryptPhc(parsed)).toBe(text);
      }),
    );
  });

  it("listTokensQuerySchema: a bounded query or a validation error, and the client's own queries parse", async () => {
    const key = fc.constantFrom(
      "afterTokenId",
      "limit",
      "includeRevoked",
      "includeExpired",
      "includeSecretPhc",
      "hasRole",
      "other",
    );
    await check(
      "listTokensQuerySchema",
      fc.property(fc.dictionary(key, fc.oneof(fc.string(), fc.nat().map(String))), (query) => {
        const parsed = listTokensQuerySchema.safeParse(query);
        if (parsed.success) {
          expect(parsed.data.limit).toBeGreaterThanOrEqual(1);
          expect(parsed.data.limit).toBeLessThanOrEqual(MAX_LIST_LIMIT);
        }
      }),
    );
    await check(
      "toListTokensSearchParams",
      fc.property(
        fc.record(
          {
            afterTokenId: tokenId,
            limit: fc.integer({ min: 1, max: MAX_LIST_LIMIT }),
            includeRevoked: fc.boolean(),
            includeExpired: fc.boolean(),
            includeSecretPhc: fc.boolean(),
          },
          { requiredKeys: [] },
        ),
        (options) => {
          const query = Object.fromEntries(toListTokensSearchParams(options));
          expect(listTokensQuerySchema.safeParse(query).success).toBe(true);
        },
      ),
    );
  });
});

describe("pat-server routes", () => {
  const store = createMemoryStore();
  let handler: PatHandler;
  let adminJwt = "";
  let userJwt = "";
  let adminPat = "";
  let userId = "";
  const crashes: string[] = [];
  const statuses = new Map<number, number>();

  const exchange = async (pat: string) => {
    const response = await handler(
      new Request("http://pat.test/auth/token", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ client_secret: pat }),
      }),
    );
    expect(response.status).toBe(200);
    return registerSecret(((await response.json()) as { access_token: string }).access_token, "PAT JWT");
  };

  beforeAll(async () => {
    handler = createPatHandler({
      store,
      scryptLog2Cost: 10,
      rateLimit: false,
      onError: (state) => {
        crashes.push(`${state.method} ${state.path}`);
        logLine("pat-server.log", JSON.stringify(state));
        dumpError("pat-server onError", state.error);
      },
    });
    const admin = await issueToken(store, { owner: "admin", isAdmin: true }, { scryptLog2Cost: 10 });
    const user = await issueToken(store, { owner: "user", roles: ["reader"] }, { scryptLog2Cost: 10 });
    adminPat = registerSecret(admin!.token, "admin PAT");
    registerSecret(user!.token, "user PAT");
    userId = user!.record.tokenId;
    adminJwt = await exchange(adminPat);
    userJwt = await exchange(user!.token);
  });
  afterAll(() => handler.close());

  const snapshot = async () => {
    await handler.flush();
    return JSON.stringify(
      await store.list({ includeRevoked: true, includeExpired: true, limit: 100_000, nowSeconds: 0 }),
    );
  };

  const FIELD_VALUES = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
    tokenId,
    fc.constantFrom("reader", "writer", "admin"),
    fc.integer({ min: 1_700_000_000, max: 2_200_000_000 }),
  );
  const bodyObject = fc.dictionary(
    fc.constantFrom(
      "owner",
      "roles",
      "expiresAt",
      "isAdmin",
      "client_secret",
      "tokenIds",
      "secretPhc",
      "tokenId",
      "add",
      "remove",
      "__proto__",
      "x",
    ),
    FIELD_VALUES,
    { maxKeys: 5 },
  );

  /** Anything at all: random methods, paths, queries, credentials, content types and bodies. */
  const anyRequest = fc.record({
    method: fc.oneof(
      fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
      fc.stringMatching(/^[A-Za-z]{1,7}$/),
    ),
    path: fc.oneof(
      fc.constantFrom(
        "/auth/token",
        "/admin/tokens",
        "/admin/tokens/batch",
        "/.well-known/jwks.json",
        "/healthz",
        "/",
        "/admin",
        "/admin/tokens/",
        "//admin/tokens",
      ),
      fc
        .tuple(
          fc.oneof(tokenId, fc.constant("USER"), fc.string({ maxLength: 25 }).map(encodeURIComponent)),
          fc.constantFrom("", "/revoke", "/restore", "/x", "/revoke/more"),
        )
        .map(([id, tail]) => `/admin/tokens/${id}${tail}`),
      fc.webPath(),
    ),
    query: fc.option(
      fc.dictionary(
        fc.constantFrom(
          "limit",
          "afterTokenId",
          "includeRevoked",
          "includeExpired",
          "includeSecretPhc",
          "hasRole",
        ),
        fc.oneof(fc.string({ maxLength: 12 }), fc.nat().map(String), fc.constantFrom("true", "0")),
        { maxKeys: 4 },
      ),
    ),
    authorization: fc.constantFrom("none", "admin", "user", "random", "pat", "basic"),
    contentType: fc.option(
      fc.constantFrom(
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; x",
      ),
    ),
    body: fc.option(
      fc.oneof(
        bodyObject.map((value) => JSON.stringify(value)),
        fc.string({ maxLength: 60 }),
        fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)),
      ),
    ),
  });
  /** A route's own method with the admin JWT and a JSON body of protocol fields: reaches the store. */
  const routeRequest = fc
    .tuple(
      fc.constantFrom(
        ["GET", "/admin/tokens"],
        ["POST", "/admin/tokens"],
        ["POST", "/admin/tokens/batch"],
        ["PATCH", "/admin/tokens/USER"],
        ["PUT", "/admin/tokens/USER"],
        ["PUT", "/admin/tokens/USER/revoke"],
        ["PUT", "/admin/tokens/USER/restore"],
        ["POST", "/auth/token"],
      ),
      anyRequest,
    )
    .map(([[method, path], rest]) => ({
      ...rest,
      method: method!,
      path: path!,
      authorization: path === "/auth/token" ? rest.authorization : ("admin" as const),
      contentType: "application/json",
    }));
  const request = fc.oneof(anyRequest, routeRequest);

  it("answers every request below 500, and a 4xx leaves the store unchanged", async () => {
    await check(
      "pat-server routes",
      fc.asyncProperty(request, async (input) => {
        const headers = new Headers();
        const auth = {
          none: undefined,
          admin: `Bearer ${adminJwt}`,
          user: `Bearer ${userJwt}`,
          random: "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl",
          pat: `Bearer ${adminPat}`,
          basic: "Basic dXNlcjpwYXNz",
        }[input.authorization];
        if (auth) headers.set("authorization", auth);
        if (input.contentType) headers.set("content-type", input.contentType);
        const path = input.path.replace("USER", userId);
        const query = input.query ? `?${new URLSearchParams(input.query)}` : "";
        const method = input.method.toUpperCase();
        const hasBody = input.body !== null && method !== "GET" && method !== "HEAD";
        let built: Request;
        try {
          built = new Request(`http://pat.test${path}${query}`, {
            method: input.method,
            headers,
            ...(hasBody && { body: input.body }),
          });
        } catch {
          return; // not a request a server could receive (a forbidden method)
        }
        const before = await snapshot();
        const response = await handler(built);
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect(response.status, `${method} ${path}`).toBeLessThan(500);
        if (response.status >= 400)
          expect(await snapshot(), `${method} ${path} changed the store`).toBe(before);
      }),
    );
    expect(crashes).toEqual([]);
    // The generator reaches the store: some requests succeed, some are refused.
    const count = (from: number, to: number) =>
      [...statuses].filter(([status]) => status >= from && status < to).reduce((sum, [, n]) => sum + n, 0);
    expect(count(200, 300)).toBeGreaterThan(0);
    expect(count(400, 500)).toBeGreaterThan(0);
    logLine("pat-server.log", `statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
});
