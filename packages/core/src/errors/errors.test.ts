import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { registerSecret } from "../../../../test/reliability/src/secret-registry.js";
import {
  AbortError,
  InvalidResponseError,
  isAbortError,
  isInvalidResponseError,
  isNetworkError,
  isOAuthError,
  isTimeoutError,
  isTokenkeepError,
  NetworkError,
  OAuthError,
  TimeoutError,
  TokenkeepError,
} from "./errors.js";
import { isTransientError } from "./failure-classification.js";

const SECRET = registerSecret("s3cr3t-refresh-token", "refresh token"); // fixed, registered

describe("errors", () => {
  it("each guard accepts its own class and rejects the others and foreign values", () => {
    const errors = {
      oauth: new OAuthError({ error: "invalid_grant", status: 400 }),
      invalid: new InvalidResponseError("bad"),
      network: new NetworkError("down"),
      timeout: new TimeoutError("slow"),
      abort: new AbortError(),
    };
    const guards = {
      oauth: isOAuthError,
      invalid: isInvalidResponseError,
      network: isNetworkError,
      timeout: isTimeoutError,
      abort: isAbortError,
    };
    for (const [name, guard] of Object.entries(guards)) {
      for (const [other, error] of Object.entries(errors)) {
        expect(guard(error), `${name} guard on ${other}`).toBe(name === other);
        expect(isTokenkeepError(error)).toBe(true);
      }
      for (const foreign of [
        new Error("x"),
        { code: "ERR_TOKENKEEP_OAUTH" },
        null,
        undefined,
        "ERR_TOKENKEEP_OAUTH",
      ]) {
        expect(guard(foreign)).toBe(false);
      }
    }
  });

  it("recognises an error from a duplicate install by its global brand, not by instanceof", () => {
    // What a second copy of this package would throw: another class, the same Symbol.for brand.
    const foreign = Object.defineProperty(
      Object.assign(new Error("answered 400 invalid_grant"), {
        code: "ERR_TOKENKEEP_OAUTH",
        transient: false,
      }),
      Symbol.for("tokenkeep.error"),
      { value: true },
    );
    expect(foreign instanceof OAuthError).toBe(false);
    expect(isOAuthError(foreign)).toBe(true);
    expect(isTokenkeepError(foreign)).toBe(true);
    expect(isTransientError(foreign)).toBe(false);
  });

  it("serializes name, message and the non-secret fields, never the cause or the response", () => {
    const response = new Response(`{"refresh_token":"${SECRET}"}`, { status: 400 });
    const error = new OAuthError({
      error: "invalid_grant",
      errorDescription: "grant revoked",
      status: 400,
      retryAfterMs: 2_000,
      response,
      cause: new Error(SECRET),
    });
    const json = JSON.parse(JSON.stringify(error));
    expect(json).toEqual({
      name: "OAuthError",
      message: "authorization server answered 400 invalid_grant: grant revoked",
      code: "ERR_TOKENKEEP_OAUTH",
      transient: false,
      retryAfterMs: 2_000,
      error: "invalid_grant",
      errorDescription: "grant revoked",
      status: 400,
    });
    expectNoSecretIn(JSON.stringify(error), SECRET, "the error's JSON");
    expect(error.response).toBe(response);
    expect(error.cause).toBeInstanceOf(Error);
    expect(Object.keys(error)).not.toContain("response");
    expect(Object.keys(error)).not.toContain("cause");
  });

  it("sets transient by kind: network and timeout yes, abort no, OAuth by code and status", () => {
    expect(new NetworkError("down").transient).toBe(true);
    expect(new TimeoutError("slow", { timeoutMs: 5 })).toMatchObject({ transient: true, timeoutMs: 5 });
    expect(new AbortError().transient).toBe(false);
    expect(new OAuthError({ error: "invalid_client", status: 401 }).transient).toBe(false);
    expect(new OAuthError({ error: "invalid_client", status: 503 }).transient).toBe(true);
    expect(new OAuthError({ error: "slow_down", status: 400 }).transient).toBe(true);
    expect(new TokenkeepError("ERR_X", "x").transient).toBe(false);
  });

  it("keeps no response property when none was given, and no cause when none was given", () => {
    const error = new InvalidResponseError("bad", { status: 502 });
    expect("response" in error).toBe(false);
    expect("cause" in error).toBe(false);
  });
});
