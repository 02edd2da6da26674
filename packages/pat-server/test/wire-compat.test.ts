import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateToken } from "../src/token-generator";
import {
  type StoreKind,
  startTestServer,
  storeKindsFor,
  TEST_SCRYPT_LOG2_COST,
  type TestServer,
} from "./helpers/server";

type Shape = string | null | Shape[] | { [key: string]: Shape };

interface Exchange {
  name: string;
  request: {
    method: string;
    path: string;
    auth?: "admin" | "user";
    headers?: Record<string, string>;
    json?: unknown;
    form?: Record<string, string>;
    basic?: [string, string];
  };
  response: { status: number; type: string | null; body: Shape };
}

const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/wire-exchanges.json", import.meta.url), "utf8"),
) as {
  recordShape: Shape;
  exchanges: Exchange[];
};

/** Lists where `value` departs from `shape` (empty when it matches). */
function mismatches(value: unknown, shape: Shape, path = "body"): string[] {
  if (shape === "$record") return mismatches(value, fixture.recordShape, path);
  if (shape === null) return value === null ? [] : [`${path}: expected null`];
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${path}: expected an array`];
    return value.flatMap((item, i) => mismatches(item, shape[0]!, `${path}[${i}]`));
  }
  if (typeof shape === "object") {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      return [`${path}: expected an object`];
    const problems: string[] = [];
    for (const [rawKey, inner] of Object.entries(shape)) {
      const optional = rawKey.startsWith("?");
      const key = optional ? rawKey.slice(1) : rawKey;
      if (!(key in value)) {
        if (!optional) problems.push(`${path}.${key}: missing`);
        continue;
      }
      problems.push(...mismatches((value as Record<string, unknown>)[key], inner, `${path}.${key}`));
    }
    return problems;
  }
  if (shape.startsWith("=")) return value === shape.slice(1) ? [] : [`${path}: expected ${shape.slice(1)}`];
  if (shape.startsWith("/")) {
    const pattern = new RegExp(shape.slice(1, -1));
    return typeof value === "string" && pattern.test(value) ? [] : [`${path}: expected ${shape}`];
  }
  if (shape === "string[]") {
    return Array.isArray(value) && value.every((v) => typeof v === "string")
      ? []
      : [`${path}: expected string[]`];
  }
  const types = shape.split("|");
  const actual = value === null ? "null" : typeof value;
  return types.includes(actual) ? [] : [`${path}: expected ${shape}, got ${actual}`];
}

describe.each(storeKindsFor("wire-compatibility tests on PostgreSQL"))(
  "wire compatibility (%s)",
  (kind: StoreKind) => {
    let server: TestServer;
    let userJwt: string;
    let vars: Record<string, string>;

    beforeAll(async () => {
      server = await startTestServer(kind);
      const user = await server.issue({ owner: "user@example.com", roles: ["reader"] });
      const pre = await generateToken({ scryptLog2Cost: TEST_SCRYPT_LOG2_COST });
      userJwt = await server.jwtFor(user.token);
      vars = {
        pat: user.token,
        userId: user.record.tokenId,
        adminPat: server.adminToken,
        unknownId: "Unknown00000000000000",
        newId: pre.tokenId,
        newPhc: pre.secretPhc,
      };
    });
    afterAll(async () => {
      await server.close();
    });

    const fill = (text: string) => text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => vars[name] ?? "");

    it.each(fixture.exchanges)("$name", async ({ request, response: expected }) => {
      const headers = new Headers(
        Object.entries(request.headers ?? {}).map(([k, v]): [string, string] => [k, fill(v)]),
      );
      let body: string | undefined;
      if (request.json !== undefined) {
        headers.set("content-type", "application/json");
        body = fill(JSON.stringify(request.json));
      } else if (request.form) {
        headers.set("content-type", "application/x-www-form-urlencoded");
        body = new URLSearchParams(
          Object.entries(request.form).map(([k, v]): [string, string] => [k, fill(v)]),
        ).toString();
      }
      if (request.basic) headers.set("authorization", `Basic ${btoa(request.basic.map(fill).join(":"))}`);
      const init = { method: request.method, headers, body };
      const path = fill(request.path);
      const response =
        request.auth === "admin"
          ? await server.admin(path, init)
          : await fetch(`${server.url}${path}`, {
              ...init,
              ...(request.auth === "user" && {
                headers: new Headers([...headers, ["authorization", `Bearer ${userJwt}`]]),
              }),
            });

      expect(response.status).toBe(expected.status);
      const type = response.headers.get("content-type");
      if (expected.type === null) {
        expect(await response.text()).toBe("");
      } else {
        // Exactly the type, no parameters: the `@access-tokens` client reads error bodies only then.
        expect(type).toBe(expected.type);
        expect(mismatches(await response.json(), expected.body)).toEqual([]);
      }
    });
  },
);

describe("the shape matcher", () => {
  it("reports departures, so a wire change cannot pass unnoticed", () => {
    expect(mismatches({ token_type: "bearer" }, { token_type: "=Bearer" })).toHaveLength(1);
    expect(mismatches({ records: [{ tokenId: "short" }] }, { records: ["$record"] }).length).toBeGreaterThan(
      1,
    );
    expect(mismatches({ a: null }, { a: "number" })).toEqual(["body.a: expected number, got null"]);
    expect(mismatches({}, { "?a": "number", b: "string" })).toEqual(["body.b: missing"]);
  });
});
