/**
 * Fuzzing core's and grants' input boundaries: token responses (as parsed values and as HTTP answers),
 * `Retry-After`, and an authorization server's error answer echoing the client secret in its
 * description and its `WWW-Authenticate` header (core carries that header as text; grants redacts
 * echoed credentials from it). Seeds: see src/fuzz.ts.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { isOAuthError, isTokenkeepError, parseTokenResponse, type TokenSet } from "@tokenkeep/core";
import { parseRetryAfter, readTokenResponse } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { check } from "../src/fuzz";
import { dumpError } from "../src/output";
import { expectNoSecretIn } from "../src/secret-assert";
import { findLeaks, mintSecret } from "../src/secrets";

const SENT_AT = 1_800_000_000_000;

/** A value of any JSON-ish kind, including the wrong kinds for every field. */
const anyValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.stringMatching(/^-?\d{1,12}(\.\d{1,3})?$/),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);

const FIELDS = [
  "access_token",
  "token_type",
  "expires_in",
  "refresh_token",
  "refresh_token_expires_in",
  "refresh_in",
  "scope",
  "id_token",
  "error",
  "error_description",
  "error_uri",
  "__proto__",
  "constructor",
];

const tokenBody = fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELDS), anyValue, { maxKeys: 8 }),
  fc.record({ access_token: fc.string({ minLength: 1 }), expires_in: anyValue, token_type: anyValue }),
  fc.jsonValue(),
  fc.anything(),
);

/** The only acceptable failure: one of core's coded errors. */
function expectCoded(error: unknown): void {
  expect(isTokenkeepError(error), `not a coded error: ${String(error)}`).toBe(true);
}

describe("parseTokenResponse", () => {
  it("returns a usable set or throws a coded error, for any body", async () => {
    await check(
      "parseTokenResponse",
      fc.property(tokenBody, fc.integer({ min: 100, max: 599 }), (body, status) => {
        let set: TokenSet;
        try {
          set = parseTokenResponse(body, { sentAt: SENT_AT, status });
        } catch (error) {
          expectCoded(error);
          // The message names a field, never an access token's value.
          const token = (body as { access_token?: unknown } | null)?.access_token;
          if (typeof token === "string" && token.length >= 8) {
            expectNoSecretIn((error as Error).message, token, "the error's message");
            expectNoSecretIn(JSON.stringify(error), token, "the error's JSON");
          }
          return;
        }
        expect(typeof set.accessToken).toBe("string");
        expect(set.accessToken.length).toBeGreaterThan(0);
        // Not NaN and not before the request; see the next test for an infinite expiry.
        expect(set.expiresAt).toBeGreaterThanOrEqual(SENT_AT);
      }),
    );
  });

  // Found by the property above (seed 1953731046, long mode): an `expires_in` so large that
  // `expiresAt` was Infinity, a token kept forever. Now an invalid field, like a negative one.
  it("an expires_in past what a Date can hold is an invalid response, never an infinite expiry", () => {
    expect(() => parseTokenResponse({ access_token: "abc", expires_in: 1e306 }, { sentAt: SENT_AT })).toThrow(
      'field "expires_in" is invalid',
    );
    expect(parseTokenResponse({ access_token: "abc", expires_in: 1e9 }, { sentAt: SENT_AT }).expiresAt).toBe(
      SENT_AT + 1e12,
    );
  });
});

describe("readTokenResponse", () => {
  const contentTypes = fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "text/html",
    "text/plain",
    "",
    "APPLICATION/JSON",
  );
  const bodies = fc.oneof(
    fc.string(),
    fc.jsonValue().map((value) => JSON.stringify(value)),
    tokenBody.map((value) => {
      try {
        return JSON.stringify(value) ?? "";
      } catch {
        return "";
      }
    }),
    fc.uint8Array({ maxLength: 64 }),
  );

  it("resolves a usable set or rejects with a coded error, for any answer", async () => {
    await check(
      "readTokenResponse",
      fc.asyncProperty(
        fc.integer({ min: 200, max: 599 }),
        contentTypes,
        bodies,
        fc.option(
          fc.oneof(
            fc.string(),
            fc.nat().map(String),
            fc.date().map((d) => d.toUTCString()),
          ),
        ),
        async (status, contentType, body, retryAfter) => {
          const headers = new Headers();
          if (contentType) headers.set("content-type", contentType);
          if (retryAfter !== null) {
            try {
              headers.set("retry-after", retryAfter);
            } catch {
              // not a valid header value: the fetch layer would never deliver it
            }
          }
          const nullBody = status === 204 || status === 205 || status === 304;
          const response = new Response(nullBody ? null : body, { status, headers });
          const outcome = await readTokenResponse(response, { sentAt: SENT_AT, now: () => SENT_AT }).then(
            (set) => ({ set }),
            (error: unknown) => ({ error }),
          );
          if ("set" in outcome) {
            expect(status).toBeLessThan(300);
            expect(outcome.set.accessToken.length).toBeGreaterThan(0);
            return;
          }
          expectCoded(outcome.error);
          const retryAfterMs = (outcome.error as { retryAfterMs?: unknown }).retryAfterMs;
          if (retryAfterMs !== undefined) {
            expect(Number.isFinite(retryAfterMs)).toBe(true);
            expect(retryAfterMs as number).toBeGreaterThanOrEqual(0);
          }
        },
      ),
    );
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates, and nothing else, never negative", async () => {
    await check(
      "parseRetryAfter",
      fc.property(
        fc.oneof(
          fc.string(),
          fc.nat().map(String),
          fc.integer().map(String),
          fc.double().map(String),
          fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
          fc.constantFrom("-1", "1e3", "0x10", " 5 ", "Infinity", "NaN", "2026-13-45"),
        ),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        (value, now) => {
          const ms = parseRetryAfter(value, now);
          if (ms === undefined) return;
          expect(Number.isFinite(ms) || /^\s*\d+\s*$/.test(value)).toBe(true);
          expect(ms).toBeGreaterThanOrEqual(0);
          if (/^\s*\d+\s*$/.test(value)) expect(ms).toBe(Number(value.trim()) * 1000);
        },
      ),
    );
  });
});

describe("an error answer echoing the client secret (description and WWW-Authenticate)", () => {
  // With characters that URL and form encoding change, so an encoded echo differs from the clear one.
  const secret = mintSecret("echoed client secret", { odd: true });
  let url = "";
  let answer: { status: number; description: string; challenge: string } = {
    status: 401,
    description: "",
    challenge: "",
  };
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(answer.status, {
        "content-type": "application/json",
        "www-authenticate": answer.challenge,
      });
      response.end(JSON.stringify({ error: "invalid_client", error_description: answer.description }));
    });
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Printable header-safe text around the secret. */
  const around = fc.string({ unit: fc.constantFrom(..."abc XYZ=,\"':;-_/"), maxLength: 20 });

  it("never carries the secret, in any form, in the error's message, toJSON or inspect output", async () => {
    const creator = clientCredentialsGrant({ tokenUrl: url, clientId: "fuzz-client", clientSecret: secret });
    await check(
      "echoed secret",
      fc.asyncProperty(
        fc.constantFrom(400, 401, 403, 429, 500, 503),
        around,
        around,
        fc.boolean(),
        fc.constantFrom("clear", "percent", "form"),
        async (status, before, after, inChallenge, encoding) => {
          // As sent: some servers echo the credential as they parsed it, others the raw form body.
          const echoed = {
            clear: secret,
            percent: encodeURIComponent(secret),
            form: new URLSearchParams({ s: secret }).toString().slice(2),
          }[encoding];
          answer = {
            status,
            description: `${before}${echoed}${after}`,
            challenge: inChallenge ? `Basic realm="${before}${echoed}${after}"` : `Bearer realm="${before}"`,
          };
          const error = await creator().then(
            () => undefined,
            (reason: unknown) => reason,
          );
          expect(isOAuthError(error)).toBe(true);
          dumpError("echoed secret", error);
          const texts = [String(error), JSON.stringify(error), inspect(error, { depth: 6 })];
          const leaks = findLeaks(
            [{ label: "client secret", secret }],
            texts.map((text, index) => ({ where: ["String", "toJSON", "inspect"][index]!, text })),
          );
          expect(leaks, `echoed ${encoding}`).toEqual([]);
        },
      ),
      50,
    );
  });
});
