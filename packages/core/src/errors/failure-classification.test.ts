import { describe, expect, it } from "vitest";
import { AbortError, InvalidResponseError, NetworkError, OAuthError, TimeoutError } from "./errors.js";
import { isTransientError, refusedBeforeRedeeming } from "./failure-classification.js";

/** A TypeError with a `code`, as Bun's fetch rejects with. */
function bunFailure(code: string, message: string): TypeError {
  return Object.assign(new TypeError(message), { code });
}

describe("isTransientError: tokenkeep errors", () => {
  it("follows their own transient flag", () => {
    expect(isTransientError(new NetworkError("down"))).toBe(true);
    expect(isTransientError(new TimeoutError("slow"))).toBe(true);
    expect(isTransientError(new OAuthError({ error: "temporarily_unavailable", status: 503 }))).toBe(true);
    expect(isTransientError(new OAuthError({ error: "invalid_grant", status: 400 }))).toBe(false);
    expect(isTransientError(new AbortError())).toBe(false);
    expect(isTransientError(new InvalidResponseError("bad field", { status: 200 }))).toBe(false);
  });

  it("does not let a permanent tokenkeep error's cause make it transient", () => {
    const error = new InvalidResponseError("bad field", { cause: new TypeError("fetch failed") });
    expect(isTransientError(error)).toBe(false);
  });
});

describe("isTransientError: fetch network failures", () => {
  it.each([
    ["Node (undici), Deno 2", "fetch failed"],
    ["Chromium", "Failed to fetch"],
    ["Firefox", "NetworkError when attempting to fetch resource."],
    ["Safari", "Load failed"],
    ["Chromium naming the host", "Failed to fetch (auth.example.com)"],
    ["Safari naming the host", "Load failed (auth.example.com)"],
    ["Node (undici), an answer broken off mid-body", "terminated"],
    ["older Deno", "error sending request for url (http://127.0.0.1:1/): connection refused"],
  ])("retries the TypeError of %s", (_runtime, message) => {
    expect(isTransientError(new TypeError(message))).toBe(true);
  });

  it("retries Bun's TypeError carrying a network error code", () => {
    const refused = bunFailure(
      "ECONNREFUSED",
      "ECONNREFUSED: Unable to connect. Is the computer able to access the url?",
    );
    expect(isTransientError(refused)).toBe(true);
    expect(
      isTransientError(bunFailure("ECONNRESET", "ECONNRESET: The socket connection was closed unexpectedly")),
    ).toBe(true);
  });

  it("does not retry a plain TypeError from a bug", () => {
    let bug: unknown;
    try {
      (undefined as unknown as { access_token: string }).access_token;
    } catch (error) {
      bug = error;
    }
    expect(bug).toBeInstanceOf(TypeError);
    expect(isTransientError(bug)).toBe(false);
    expect(isTransientError(new TypeError("Failed to parse URL from /token"))).toBe(false);
    // Chromium's failed import(): "Failed to fetch" begins it, but no network answer was missing.
    expect(isTransientError(new TypeError("Failed to fetch dynamically imported module: /x.js"))).toBe(false);
    expect(isTransientError(new TypeError("fetch failed (x)"))).toBe(false);
    expect(isTransientError(bunFailure("ERR_INVALID_ARG_TYPE", "bad argument"))).toBe(false);
  });

  it("does not retry the same message on an error that is not a TypeError", () => {
    expect(isTransientError(new Error("fetch failed"))).toBe(false);
  });
});

describe("isTransientError: HTTP status", () => {
  it.each([408, 429, 500, 502, 503, 504, 599])(
    "retries status %i in status, statusCode or response.status",
    (status) => {
      expect(isTransientError(Object.assign(new Error("http"), { status }))).toBe(true);
      expect(isTransientError(Object.assign(new Error("http"), { statusCode: status }))).toBe(true);
      expect(isTransientError(Object.assign(new Error("http"), { response: { status } }))).toBe(true);
      expect(isTransientError({ statusCode: status })).toBe(true);
    },
  );

  it.each([200, 400, 401, 403, 404, 409, 422, 600])("surfaces status %i at once", (status) => {
    expect(isTransientError(Object.assign(new Error("http"), { status }))).toBe(false);
    expect(isTransientError({ statusCode: status })).toBe(false);
  });

  it("ignores a status that is not a number", () => {
    expect(isTransientError(Object.assign(new Error("http"), { status: "503" }))).toBe(false);
  });

  it("lets the error's own status decide over its cause", () => {
    const error = Object.assign(new Error("bad request"), {
      status: 400,
      cause: new TypeError("fetch failed"),
    });
    expect(isTransientError(error)).toBe(false);
  });
});

describe("isTransientError: timeouts and aborts", () => {
  it("retries the TimeoutError of AbortSignal.timeout()", async () => {
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    expect(signal.reason).toBeInstanceOf(DOMException);
    expect(isTransientError(signal.reason)).toBe(true);
  });

  it("does not retry an AbortError", () => {
    const controller = new AbortController();
    controller.abort();
    expect(isTransientError(controller.signal.reason)).toBe(false);
    expect(isTransientError(new DOMException("stopped", "AbortError"))).toBe(false);
  });

  it("reads a plain object named TimeoutError as nothing", () => {
    expect(isTransientError({ name: "TimeoutError" })).toBe(false);
  });
});

describe("isTransientError: cause and the rest", () => {
  it("looks one level into cause", () => {
    expect(
      isTransientError(new Error("token request failed", { cause: new TypeError("fetch failed") })),
    ).toBe(true);
    expect(isTransientError(new Error("wrapped", { cause: { statusCode: 503 } }))).toBe(true);
    expect(isTransientError(new Error("wrapped", { cause: new NetworkError("down") }))).toBe(true);
    expect(isTransientError(new Error("wrapped", { cause: { statusCode: 401 } }))).toBe(false);
  });

  it("looks no deeper than one level", () => {
    const deep = new Error("outer", { cause: new Error("middle", { cause: new TypeError("fetch failed") }) });
    expect(isTransientError(deep)).toBe(false);
  });

  it.each([
    ["an Error", new Error("boom")],
    ["a RangeError", new RangeError("bad")],
    ["a string", "fetch failed"],
    ["undefined", undefined],
    ["null", null],
    ["a number", 503],
  ])("surfaces %s at once", (_what, value) => {
    expect(isTransientError(value)).toBe(false);
  });
});

describe("refusedBeforeRedeeming", () => {
  it.each<[string, unknown]>([
    ["a 429 OAuth error", new OAuthError({ error: "slow_down", status: 429 })],
    ["a 503 temporarily_unavailable", new OAuthError({ error: "temporarily_unavailable", status: 503 })],
    [
      "a 503 with Retry-After",
      new InvalidResponseError("503", { status: 503, transient: true, retryAfterMs: 0 }),
    ],
    ["Bun's refused connection", bunFailure("ECONNREFUSED", "Unable to connect")],
    [
      "grants' NetworkError over undici's refusal",
      new NetworkError("failed", {
        cause: new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } }),
      }),
    ],
    ["a name that did not resolve", new TypeError("fetch failed", { cause: { code: "ENOTFOUND" } })],
    // RFC 9449 section 8: the server refused the DPoP proof (grants' one resend was refused alike).
    ["a 400 use_dpop_nonce", new OAuthError({ error: "use_dpop_nonce", status: 400 })],
  ])("takes %s as proof the token was not redeemed", (_what, error) => {
    expect(refusedBeforeRedeeming(error)).toBe(true);
  });

  it.each<[string, unknown]>([
    ["a 502 HTML answer", new InvalidResponseError("502", { status: 502, transient: true })],
    // A proxy's (Envoy's "upstream reset before headers", Heroku's H12 timeout): maybe after delivery.
    ["a bare 503 HTML answer", new InvalidResponseError("503", { status: 503, transient: true })],
    ["an HTTP client's bare 503", { statusCode: 503 }],
    ["a 500 server_error", new OAuthError({ error: "server_error", status: 500 })],
    ["invalid_grant", new OAuthError({ error: "invalid_grant", status: 400 })],
    ["a reset", new NetworkError("reset", { cause: { code: "ECONNRESET" } })],
    ["Node's terminated body", new TypeError("terminated", { cause: { code: "UND_ERR_SOCKET" } })],
    ["a timeout", new TimeoutError("slow")],
    ["an abort", new AbortError()],
    ["a 502 over a refused upstream", { status: 502, cause: { code: "ECONNREFUSED" } }],
    [
      "a 502 over a use_dpop_nonce",
      { status: 502, cause: new OAuthError({ error: "use_dpop_nonce", status: 400 }) },
    ],
    ["a plain Error", new Error("socket hang up")],
    ["nothing", undefined],
  ])("leaves the token in doubt after %s", (_what, error) => {
    expect(refusedBeforeRedeeming(error)).toBe(false);
  });
});
