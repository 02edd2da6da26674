import { NetworkError } from "@tokenkeep/core";
import type { APIContext } from "astro";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeContext } from "../../test/helpers/context.js";
import type { TokenkeepLocals } from "../locals.js";
import { SessionTooLargeError } from "../session-cookies.js";
import { SignInError } from "../sign-in-error.js";
import { isSameSite, loginRoute, logoutRoute } from "./sign-in-routes.js";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A form post to the login route whose `login()` fails with `failure`. */
/**
 * The sign-in route's context for a same-origin POST of `body` as `contentType`, with `headers` more
 * (`duplex` for a stream body; other bodies ignore it).
 */
function loginPost(contentType: string, body: BodyInit, headers: Record<string, string> = {}): APIContext {
  const context = makeContext("http://app.test/_tokenkeep/login", { method: "POST" }) as APIContext;
  Object.defineProperty(context, "request", {
    value: new Request(context.request.url, {
      method: "POST",
      headers: { "sec-fetch-site": "same-origin", "content-type": contentType, ...headers },
      body,
      duplex: "half",
    } as RequestInit),
  });
  return context;
}

async function postLogin(
  failure: unknown,
  options: { base?: string; signInPath?: string; referer?: string; json?: boolean } = {},
) {
  const context = makeContext("http://app.test/_tokenkeep/login", {
    method: "POST",
    headers: { "sec-fetch-site": "same-origin", ...(options.referer ? { referer: options.referer } : {}) },
  }) as APIContext;
  const fields = { username: "alice", password: "hunter2-secret" };
  Object.defineProperty(context, "request", {
    value: new Request(context.request.url, {
      method: "POST",
      headers: {
        ...Object.fromEntries(context.request.headers),
        "content-type": options.json ? "application/json" : "application/x-www-form-urlencoded",
      },
      body: options.json ? JSON.stringify(fields) : new URLSearchParams(fields),
    }),
  });
  (context.locals as { tokenkeep?: Partial<TokenkeepLocals> }).tokenkeep = {
    login: () => Promise.reject(failure),
  };
  return loginRoute(context, { base: options.base, signInPath: options.signInPath });
}

describe("injected sign-in route", () => {
  it("logs a failure no upstream answer explains (by name and message, never a credential)", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    // A custom upstream's bug whose message quotes what it was sent, password included.
    const bug = new SignInError("ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE", {
      cause: new TypeError("x is not a function (body: username=alice&password=hunter2-secret)"),
    });
    const response = await postLogin(bug);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/login?error=unavailable");
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]?.[0])).toBe(
      "@tokenkeep/astro: sign-in failed: TypeError: x is not a function (body: username=[redacted]&password=[redacted])",
    );
    expect(JSON.stringify(logged.mock.calls)).not.toContain("hunter2-secret");
    await postLogin(new Error("not a SignInError"));
    expect(logged).toHaveBeenCalledTimes(2);
  });

  it("does not log rejected credentials or the upstream's own failures (onEvent reports those)", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    await postLogin(new SignInError("ERR_TOKENKEEP_SIGN_IN_REJECTED"));
    await postLogin(
      new SignInError("ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE", {
        cause: new NetworkError("token request failed"),
      }),
    );
    expect(logged).not.toHaveBeenCalled();
  });

  it("a session over cookie.maxBytes: 500 server_error (trying again cannot help), logged naming the option", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const tooLarge = new SignInError("ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE", {
      cause: new SessionTooLargeError(9_120, 7_600),
    });
    const form = await postLogin(tooLarge);
    expect(form.status).toBe(303);
    expect(form.headers.get("location")).toBe("/login?error=server_error");
    const json = await postLogin(tooLarge, { json: true });
    expect(json.status).toBe(500);
    expect(await json.json()).toEqual({
      error: "server_error",
      message: "sign-in failed on the server (its log says why)",
    });
    expect(logged).toHaveBeenCalledTimes(2);
    const line = String(logged.mock.calls[0]?.[0]);
    expect(line).toMatch(
      /^@tokenkeep\/astro: sign-in failed: SessionTooLargeError \(ERR_TOKENKEEP_SESSION_TOO_LARGE\): the sealed session is 9120 bytes, over cookie\.maxBytes \(7600\)/,
    );
    expect(line).toContain('storage: "session"');
    // The upstream's own failure stays a 503 worth trying again.
    const down = await postLogin(
      new SignInError("ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE", {
        cause: new NetworkError("token request failed"),
      }),
      { json: true },
    );
    expect(down.status).toBe(503);
  });

  it("under a base, its fallbacks (/login, /) are the site's own pages", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const failed = await postLogin(new SignInError("ERR_TOKENKEEP_SIGN_IN_REJECTED"), { base: "/app" });
    expect(failed.headers.get("location")).toBe("/app/login?error=rejected");
    // The config's protect.signInPath, when it names another page.
    const elsewhere = await postLogin(new SignInError("ERR_TOKENKEEP_SIGN_IN_REJECTED"), {
      base: "/app",
      signInPath: "/sign-in",
    });
    expect(elsewhere.headers.get("location")).toBe("/app/sign-in?error=rejected");
    const context = makeContext("http://app.test/app/_tokenkeep/logout", {
      method: "POST",
      headers: { "sec-fetch-site": "same-origin" },
    }) as APIContext;
    (context.locals as { tokenkeep?: Partial<TokenkeepLocals> }).tokenkeep = {
      logout: async () => ({ revoked: false }),
    };
    const out = await logoutRoute(context, { base: "/app/" });
    expect(out.headers.get("location")).toBe("/app/");
  });
});

describe("injected routes: body size", () => {
  /** A same-origin post to `route` whose body is `chunks` pieces of 64 KiB, streamed (no Content-Length). */
  function streamedPost(route: typeof loginRoute, chunks: number, type: string) {
    let pulled = 0;
    const piece = new TextEncoder().encode("a".repeat(64 * 1024));
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === chunks) return controller.close();
        pulled++;
        controller.enqueue(piece);
      },
    });
    const context = loginPost(type, body);
    const calls: string[] = [];
    (context.locals as { tokenkeep?: Partial<TokenkeepLocals> }).tokenkeep = {
      login: async () => {
        calls.push("login");
        return { signedIn: true, sessionPayload: undefined, expiresAt: 0 };
      },
      logout: async () => {
        calls.push("logout");
        return { revoked: false };
      },
    };
    return { response: route(context), pulled: () => pulled, calls };
  }

  it("answers 413 to a body over 64 KiB without reading it all (login and logout, streamed or declared)", async () => {
    for (const route of [loginRoute, logoutRoute]) {
      for (const type of [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
      ]) {
        // 16 MiB offered: the route stops reading just past its limit.
        const streamed = streamedPost(route, 256, type);
        const response = await streamed.response;
        expect(response.status).toBe(413);
        expect(response.headers.get("cache-control")).toBe("no-store");
        expect(await response.json()).toEqual({ error: "the request body is over 65536 bytes" });
        expect(streamed.pulled()).toBeLessThanOrEqual(4);
        expect(streamed.calls).toEqual([]);
      }
    }
    // A declared Content-Length over the limit is refused before anything is read.
    const context = loginPost("application/json", "{}", { "content-length": "1000000" });
    expect((await loginRoute(context)).status).toBe(413);
  });

  it("reads a body at the limit as usual", async () => {
    const streamed = streamedPost(loginRoute, 1, "application/x-www-form-urlencoded");
    const response = await streamed.response;
    expect(response.status).toBe(303);
    expect(streamed.calls).toEqual(["login"]);
  });
});

it("reads a body by its media type's essence: JSON named inside a text/plain parameter is not JSON", async () => {
  // What a cross-site page may send without a CORS preflight.
  const context = loginPost(
    "text/plain; x=application/json",
    JSON.stringify({ username: "alice", password: "pw" }),
  );
  let called = false;
  (context.locals as { tokenkeep?: Partial<TokenkeepLocals> }).tokenkeep = {
    login: async () => {
      called = true;
      return { signedIn: true, sessionPayload: undefined, expiresAt: 0 };
    },
  };
  const response = await loginRoute(context);
  expect(response.status).toBe(400);
  expect(called).toBe(false);
});

it("a failed form sign-in carries returnTo back under protect.returnToParam, the name the sign-in page reads", async () => {
  vi.spyOn(console, "error").mockImplementation(() => undefined);
  const post = (options: Parameters<typeof loginRoute>[1]) => {
    const context = loginPost(
      "application/x-www-form-urlencoded",
      new URLSearchParams({ username: "alice", password: "pw", returnTo: "/account?tab=1" }),
    );
    (context.locals as { tokenkeep?: Partial<TokenkeepLocals> }).tokenkeep = {
      login: () => Promise.reject(new SignInError("ERR_TOKENKEEP_SIGN_IN_REJECTED")),
    };
    return loginRoute(context, options);
  };
  const named = await post({ returnToParam: "next" });
  expect(named.headers.get("location")).toBe("/login?error=rejected&next=%2Faccount%3Ftab%3D1");
  const byDefault = await post({});
  expect(byDefault.headers.get("location")).toBe("/login?error=rejected&returnTo=%2Faccount%3Ftab%3D1");
});

it("same-site check: only this origin's pages (or a typed-in navigation) and non-browser clients pass", () => {
  const site = "https://app.test";
  const check = (headers: Record<string, string>) =>
    isSameSite(new Request(`${site}/_tokenkeep/login`, { method: "POST", headers }), site);
  expect(check({ "sec-fetch-site": "same-origin" })).toBe(true);
  expect(check({ "sec-fetch-site": "none" })).toBe(true);
  expect(check({ origin: site })).toBe(true);
  // No browser posts cross-site without one of them.
  expect(check({})).toBe(true);
  // A sibling subdomain is same-site, not same-origin: refused, whatever its Origin says.
  expect(check({ "sec-fetch-site": "same-site", origin: site })).toBe(false);
  expect(check({ "sec-fetch-site": "cross-site" })).toBe(false);
  expect(check({ origin: "https://evil.app.test" })).toBe(false);
  // A sandboxed frame or a data: URL posts with Origin null.
  expect(check({ origin: "null" })).toBe(false);
  // The same host over plain http, or on another port, is another origin.
  expect(check({ origin: "http://app.test" })).toBe(false);
  expect(check({ origin: "https://app.test:8443" })).toBe(false);
});

it("a malformed JSON field is named, cut short: the 400 never echoes much of what was posted", async () => {
  const context = loginPost("application/json", JSON.stringify({ [`<script>${"x".repeat(5_000)}`]: 1 }));
  const response = await loginRoute(context);
  expect(response.status).toBe(400);
  expect(await response.json()).toEqual({
    error: `malformed sign-in request: field "<script>${"x".repeat(32)}..." must be a string`,
  });
});
