/**
 * The token response validator is hand-written (zod/mini alone would take most of core's size
 * budget). This test keeps it honest: a zod schema written straight from RFC 6749 section 5.1 is
 * the reference, and for any body fast-check can make, `parseTokenResponse` must accept exactly what
 * the reference accepts and produce the same fields.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { isInvalidResponseError, isOAuthError } from "../errors/errors.js";
import { parseTokenResponse } from "./token-response.js";

// Counted from the send time (1_000_000 ms here), an expiry must stay within what a Date can hold.
const LAST_SECOND = (8.64e15 - 1_000_000) / 1000;
const seconds = z
  .union([
    z.number().nonnegative().finite(),
    z
      .string()
      .regex(/^\s*\d+(\.\d+)?\s*$/)
      .transform(Number),
  ])
  .refine((value) => value <= LAST_SECOND);
const reference = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: seconds.optional(),
  refresh_token: z.string().optional(),
  scope: z.string().optional(),
  id_token: z.string().optional(),
  refresh_token_expires_in: seconds.optional(),
  refresh_in: seconds.optional(),
});

const FIELDS = [
  "access_token",
  "token_type",
  "expires_in",
  "refresh_token",
  "scope",
  "id_token",
  "refresh_token_expires_in",
  "refresh_in",
  "extra",
] as const;

const value = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.string({ maxLength: 6 }),
  fc.constantFrom("", "3600", " 60 ", "1.5", "1.", ".5", "-1", "1e3", "60s", "abc", "bearer", "DPoP"),
  fc.double({ noNaN: false }),
  fc.integer({ min: -5, max: 100_000 }),
  fc.boolean(),
  fc.constant({ nested: true }),
  fc.constant(["a"]),
);

// Each field is mostly a plausible value of its kind (so many bodies are valid and their fields are
// compared), sometimes anything at all (so every kind of wrong value is tried).
const text = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 6 }));
const secondsValue = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: 0, max: 100_000 }),
  fc.constantFrom("3600", " 60 ", "1.5", "1.", ".5", "-1", "1e3", "60s", ""),
);
const plausible: Record<(typeof FIELDS)[number], fc.Arbitrary<unknown>> = {
  access_token: fc.string({ minLength: 1, maxLength: 6 }),
  token_type: fc.oneof(text, fc.constantFrom("bearer", "DPoP", " Bearer ", "")),
  expires_in: secondsValue,
  refresh_token: text,
  scope: text,
  id_token: text,
  refresh_token_expires_in: secondsValue,
  refresh_in: secondsValue,
  extra: value,
};
const body = fc.record(
  Object.fromEntries(
    FIELDS.map((field) => [
      field,
      fc.oneof({ arbitrary: plausible[field], weight: 6 }, { arbitrary: value, weight: 1 }),
    ]),
  ) as Record<(typeof FIELDS)[number], fc.Arbitrary<unknown>>,
);

describe("parseTokenResponse against a zod reference schema", () => {
  it("accepts exactly what the reference accepts, with the same fields", () => {
    fc.assert(
      fc.property(body, (input) => {
        const present = Object.fromEntries(
          Object.entries(input).filter(([, v]) => v !== undefined && v !== null),
        );
        const expected = reference.safeParse(present);
        let actual: ReturnType<typeof parseTokenResponse> | undefined;
        let failure: unknown;
        try {
          actual = parseTokenResponse(input, { sentAt: 1_000_000, defaultLifetimeMs: 5_000 });
        } catch (error) {
          failure = error;
        }
        if (!expected.success) {
          expect(isInvalidResponseError(failure)).toBe(true);
          return;
        }
        expect(failure).toBeUndefined();
        const data = expected.data;
        const at = (s: number | undefined) => (s === undefined ? undefined : 1_000_000 + s * 1000);
        expect(actual).toMatchObject({
          accessToken: data.access_token,
          expiresAt: at(data.expires_in) ?? 1_005_000,
          refreshAt: at(data.refresh_in),
          refreshToken: data.refresh_token,
          refreshTokenExpiresAt: at(data.refresh_token_expires_in),
          scope: data.scope,
          idToken: data.id_token,
        });
        const type = data.token_type?.trim() || "Bearer";
        expect(actual?.tokenType.toLowerCase()).toBe(type.toLowerCase());
      }),
      { numRuns: 2_000 },
    );
  });

  it("treats any body with an `error` field as an error answer, as RFC 6749 section 5.2 says", () => {
    fc.assert(
      fc.property(body, fc.string({ minLength: 1, maxLength: 12 }), (input, error) => {
        let caught: unknown;
        try {
          parseTokenResponse({ ...input, error }, { sentAt: 0 });
        } catch (thrown) {
          caught = thrown;
        }
        expect(isOAuthError(caught)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
