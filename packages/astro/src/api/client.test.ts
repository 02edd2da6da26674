/**
 * The API client through the real middleware (Astro's createContext, a stub `next` playing the
 * endpoint) against real resource servers on 127.0.0.1, and a counting upstream whose refresh tokens
 * redeem once each. Every case runs twice: with the client as the middleware makes it (the common
 * GET over plain fetch) and with a transport of the same configuration that sends everything
 * through ky, bound to the same request's session; both must behave alike.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { InvalidResponseError, isTokenkeepError, OAuthError, type TokenSet } from "@tokenkeep/core";
import { createMemoryStore } from "@tokenkeep/core/memory-store";
import type { APIContext } from "astro";
import * as v from "valibot";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { listen, type RunningServer, readBody, sendJson } from "../../../grants/test/fixtures/http.js";
import { cookieValues, makeContext, setCookies } from "../../test/helpers/context.js";
import { watchLimitTimers } from "../../test/helpers/limit-timers.js";
import { parseConfig, type TokenkeepConfig, type Upstream } from "../config/schema.js";
import { createCookieSealer } from "../cookie-seal.js";
import {
  createTokenkeepMiddleware,
  prerenderMiddleware,
  type TokenkeepMiddleware,
} from "../middleware/handler.js";
import { currentRequest } from "../request-context.js";
import { api as importedApi } from "../server/index.js";
import type { Session } from "../session.js";
import { readSessionCookie, writeSessionCookie } from "../session-cookies.js";
import { type ApiClient, type ApiTransport, bindApiClient, createApiTransport } from "./client.js";
import {
  type ApiSchemaError,
  isApiError,
  isApiHttpError,
  isApiSchemaError,
  isSessionExpiredError,
} from "./errors.js";

const SECRET = "api-client-test-secret-0123456789abcdef";
/** A token in a response body, which a schema's message may quote. */
const LEAKED = "sk-leaked-in-body-7f3a9c";
const settings = { name: "tokenkeep", domain: undefined, maxAgeS: 1000 };

let resource: RunningServer;
let other: RunningServer;
/** Access tokens the resource server accepts. */
const valid = new Set<string>();
/** `Authorization` headers seen, by server and path. */
const seen: { path: string; authorization: string | undefined; host: string }[] = [];
let flaky = 0;
/** Requests per path of the hand-over cases, and when each arrived (ms). */
const hits = new Map<string, number[]>();
const hit = (path: string) => {
  const times = hits.get(path) ?? [];
  times.push(performance.now());
  hits.set(path, times);
  return times.length;
};
/** Paths whose answer's connection the client closed before the answer ended. */
const released: string[] = [];
/** Answers of `/held`, sent only when a test releases them. */
const held: ServerResponse[] = [];
/**
 * How each attempt went out, seen by the client's `fetch` option: "fetch" when sent by the fetch
 * path (or the 401 replay), which passes its timeout signal; "ky" when sent by ky, which passes none.
 * (A call with `timeoutMs: false` has no signal on either path: the tests of it do not read `via`.)
 */
const via: string[] = [];

beforeAll(async () => {
  resource = await listen(async (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    const authorization = request.headers.authorization;
    seen.push({ path, authorization, host: "resource" });
    const body = await readBody(request);
    const token = authorization?.replace(/^Bearer /, "");
    if (path === "/hang") return; // never answers
    if (path === "/held") return void held.push(response); // answered when the test says so
    // 401 to a token it does not know, then no answer at all to the renewed one's replay.
    if (path === "/hang-when-renewed" && token !== undefined && token !== "at-0") return;
    // The same, the replay answered after 300 ms.
    if (path === "/late-when-renewed" && token !== undefined && token !== "at-0") {
      return setTimeout(() => sendJson(response, 200, { late: true }), 300);
    }
    if (path === "/flaky") {
      flaky++;
      return flaky <= 2 ? sendJson(response, 503, { error: "busy" }) : sendJson(response, 200, { ok: true });
    }
    if (path === "/flaky-post") return sendJson(response, 503, { error: "busy" });
    if (path === "/busy-once" && hit(path) === 1) return sendJson(response, 503, { error: "busy" });
    if (path === "/down") return sendJson(response, 503, { error: "down" });
    // Redirects: to another origin (a page, or one answering 401), and to this origin's /me.
    const bounces: Record<string, () => string> = {
      "/bounce": () => `${other.url}/landed`,
      "/bounce-401": () => `${other.url}/unauthorized`,
      "/bounce-home": () => "/me",
    };
    if (bounces[path] !== undefined) {
      response.writeHead(302, { location: bounces[path]() });
      return response.end();
    }
    if (path === "/hang-once" && hit(path) === 1) return; // the first attempt never answers
    if (path === "/scope") {
      // A 401 about the request, not the token (RFC 6750 3.1): the token is kept.
      const challenge = 'Bearer error="insufficient_scope", scope="admin"';
      return sendJson(response, 401, { error: "insufficient_scope" }, { "www-authenticate": challenge });
    }
    if (path === "/slow-body") {
      response.writeHead(200, { "content-type": "application/json" });
      return response.write('{"partial":'); // and never ends
    }
    if (path === "/slow-401") {
      // 401 to every token, its body never ending.
      response.writeHead(401, { "content-type": "application/json", "www-authenticate": "Bearer" });
      return response.write('{"error":');
    }
    if (path === "/unauthorized-stream") {
      // 401 to every token, its body never ending; says when the client let go of the connection.
      response.on("close", () => void released.push(path));
      response.writeHead(401, { "content-type": "application/json", "www-authenticate": "Bearer" });
      return response.write('{"error":');
    }
    if (path === "/wait-an-hour" && hit(path) === 1) {
      // Busy, and asking for an hour's wait before the retry.
      return sendJson(response, 503, { error: "busy" }, { "retry-after": "3600" });
    }
    if (path === "/scope-huge") {
      // A 401 about the request (no renewal), its body 11 MiB, past what an error's data holds.
      const challenge = 'Bearer error="insufficient_scope"';
      response.writeHead(401, { "content-type": "text/plain", "www-authenticate": challenge });
      const mebibyte = Buffer.alloc(1024 * 1024, "x");
      for (let i = 0; i < 11; i++) response.write(mebibyte);
      return response.end();
    }
    if (path === "/late-body") {
      // The headers within the timeout, the body only after it: one limit covers both.
      setTimeout(() => {
        response.writeHead(200, { "content-type": "application/json" });
        response.write('{"late":');
      }, 100);
      return setTimeout(() => response.end("true}"), 260);
    }
    if (path === "/broken-body") {
      response.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      response.write('{"partial":');
      return setTimeout(() => response.socket?.destroy(), 20); // the connection breaks off mid-body
    }
    if (token === undefined || !valid.has(token)) {
      return sendJson(response, 401, { error: "invalid_token" }, { "www-authenticate": "Bearer" });
    }
    if (path === "/me" || path === "/busy-once" || path === "/hang-once" || path === "/wait-an-hour")
      return sendJson(response, 200, { name: "alice", tag: request.headers["x-tag"] ?? null });
    if (path === "/items") return sendJson(response, 200, { items: [{ id: 1 }, { id: "two" }] });
    if (path === "/leaky") {
      // A token where the schema expects a number, at the root and inside a list.
      return sendJson(response, 200, { token: LEAKED, items: [{ id: 1 }, { id: LEAKED }] });
    }
    if (path === "/echo") return sendJson(response, 201, { received: JSON.parse(body) });
    if (path === "/missing") return sendJson(response, 404, { error: "no such thing" });
    if (path === "/text") {
      response.writeHead(200, { "content-type": "text/plain" });
      return response.end("not json");
    }
    return sendJson(response, 404, {});
  });
  other = await listen((request, response) => {
    const path = request.url ?? "/";
    seen.push({ path, authorization: request.headers.authorization, host: "other" });
    if (path === "/unauthorized") return sendJson(response, 401, { error: "who are you" });
    if (path === "/busy-once" && hit(`other${path}`) === 1) return sendJson(response, 503, {});
    sendJson(response, 200, { other: true });
  });
});

afterAll(async () => {
  await resource?.close();
  await other?.close();
});

const middlewares: TokenkeepMiddleware[] = [];
afterEach(async () => {
  valid.clear();
  seen.length = 0;
  flaky = 0;
  hits.clear();
  via.length = 0;
  released.length = 0;
  for (const response of held.splice(0)) response.destroy();
  await Promise.all(middlewares.splice(0).map((middleware) => middleware.dispose()));
});

/**
 * A counting upstream: `rt-N` redeems once into `at-(N+1)`/`rt-(N+1)`, which the resource server then
 * accepts; with `accepted: false` it accepts none of them (an API rejecting every token).
 */
function makeUpstream({ accepted = true }: { accepted?: boolean } = {}) {
  const redeemed: string[] = [];
  const upstream: Upstream = {
    signIn: async () => {
      throw new Error("not used");
    },
    refresh: async ({ refreshToken }) => {
      redeemed.push(refreshToken);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const generation = Number(refreshToken.split("-").at(-1)) + 1;
      if (accepted) valid.add(`at-${generation}`);
      const set: TokenSet = {
        accessToken: `at-${generation}`,
        tokenType: "Bearer",
        expiresAt: Date.now() + 600_000,
        refreshToken: `rt-${generation}`,
        raw: {},
      };
      return set;
    },
  };
  return { upstream, redeemed };
}

/** Which transport the cases use: the middleware's own (the fetch path on), or one through ky alone. */
let path: "fetch" | "ky" = "fetch";
const kyOnly = new WeakMap<TokenkeepMiddleware, ApiTransport>();

function create(
  upstream: Upstream,
  api: TokenkeepConfig["api"] = {},
  overrides: Partial<TokenkeepConfig> = {},
) {
  const config = parseConfig({
    ...overrides,
    upstream,
    cookie: { secrets: [SECRET] },
    api: {
      baseURL: resource.url,
      fetch: (input: RequestInfo | URL, init?: RequestInit) => {
        via.push(init?.signal === undefined ? "ky" : "fetch");
        return globalThis.fetch(input, init);
      },
      ...api,
    },
  });
  const middleware = createTokenkeepMiddleware(config, { dev: false });
  kyOnly.set(middleware, createApiTransport(config.api, { fastPath: false }));
  middlewares.push(middleware);
  return middleware;
}

const session = (generation: number): Session => ({
  accessToken: `at-${generation}`,
  tokenType: "Bearer",
  expiresAt: Date.now() + 300_000,
  refreshToken: `rt-${generation}`,
});

async function sessionCookies(value: Session): Promise<Record<string, string>> {
  const context = makeContext("http://app.test/");
  await writeSessionCookie(
    {
      jar: context.cookies,
      secure: false,
      settings,
      sealer: createCookieSealer([SECRET], "tokenkeep"),
      now: Date.now,
    },
    value,
  );
  return cookieValues(setCookies(context));
}

/** Runs one request: `endpoint` plays the page or endpoint, with `locals.api`. */
async function run<T>(
  middleware: TokenkeepMiddleware,
  cookies: Record<string, string>,
  endpoint: (api: ApiClient) => Promise<T>,
) {
  const context = makeContext("http://app.test/page", { cookies }) as APIContext;
  let result = { error: new Error("not run") } as { value: T } | { error: unknown };
  let client = (context.locals as unknown as { api: ApiClient }).api;
  await middleware(context, async () => {
    if (path === "ky") {
      // What locals.api is, over the ky-only transport: bound to this request's session.
      const session = currentRequest()?.api;
      client = bindApiClient(kyOnly.get(middleware)!, () => session);
    } else client = (context.locals as unknown as { api: ApiClient }).api;
    try {
      result = { value: await endpoint(client) };
    } catch (error) {
      result = { error };
    }
    return new Response("page");
  });
  return { result, context, locals: { api: client } };
}

function unwrap<T>(result: { value: T } | { error: unknown }): T {
  if ("error" in result) throw result.error;
  return result.value;
}

describe.each(["fetch", "ky"] as const)("API client (%s path)", (which) => {
  beforeAll(() => {
    path = which;
  });

  it("sends the session's token to the API origin only, from locals.api and the api import alike", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => {
      const fromLocals = await api.get<{ name: string }>("/me");
      const fromImport = await importedApi.get<{ name: string }>(`${resource.url}/me`);
      const elsewhere = await api.get(`${other.url}/anything`);
      return { fromLocals, fromImport, elsewhere };
    });
    const { fromLocals, fromImport, elsewhere } = unwrap(result);
    expect(fromLocals.status).toBe(200);
    expect(fromLocals.data.name).toBe("alice");
    expect(fromLocals.headers.get("content-type")).toBe("application/json");
    expect(fromImport.data.name).toBe("alice");
    expect(elsewhere.data).toEqual({ other: true });
    expect(seen.filter((hit) => hit.host === "resource").map((hit) => hit.authorization)).toEqual([
      "Bearer at-0",
      "Bearer at-0",
    ]);
    expect(seen.find((hit) => hit.host === "other")?.authorization).toBeUndefined();
  });

  it("follows a redirect to another origin without the token, and a 401 there renews nothing", async () => {
    valid.add("at-0");
    const { upstream, redeemed } = makeUpstream();
    const middleware = create(upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => ({
      away: await api.get("/bounce"),
      refused: await api.get("/bounce-401").catch((error: unknown) => error),
      home: await api.get<{ name: string }>("/bounce-home"),
    }));
    const { away, refused, home } = unwrap(result);
    expect(away.data).toEqual({ other: true });
    expect(isApiHttpError(refused) && refused.status).toBe(401);
    expect(home.data.name).toBe("alice");
    expect(seen.map((entry) => [entry.host, entry.path, entry.authorization])).toEqual([
      ["resource", "/bounce", "Bearer at-0"],
      ["other", "/landed", undefined],
      ["resource", "/bounce-401", "Bearer at-0"],
      ["other", "/unauthorized", undefined],
      ["resource", "/bounce-home", "Bearer at-0"],
      ["resource", "/me", "Bearer at-0"],
    ]);
    expect(redeemed).toEqual([]);
  });

  it("sends no token without a session", async () => {
    const middleware = create(makeUpstream().upstream);
    const { result } = await run(middleware, {}, (api) => api.get("/me"));
    expect("error" in result && isApiHttpError(result.error) && result.error.status).toBe(401);
    expect(seen[0]?.authorization).toBeUndefined();
  });

  it("a schema failure's message lists the paths only, and its issues (the library's words, quoting the value) are not enumerable: no value in a log or JSON", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    // valibot quotes what it received in its messages: `... but received "sk-..."`.
    const Leaky = v.object({ token: v.number(), items: v.array(v.object({ id: v.number() })) });
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/leaky?q=1", { schema: Leaky }).catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiSchemaError(error)).toBe(true);
    // First the checks whose failure shows no value (a failing toEqual would print it).
    const { inspect } = await import("node:util");
    expectNoSecretIn(inspect(error, { depth: 8 }), [LEAKED], "the inspected schema error");
    expectNoSecretIn(JSON.stringify(error), [LEAKED], "the schema error as JSON");
    expectNoSecretIn(String(error), [LEAKED], "the schema error as text");
    expect(isApiSchemaError(error) && [error.path, error.message]).toEqual([
      "token",
      `GET ${resource.url}/leaky answered data that failed its schema at token, items.1.id`,
    ]);
    // Still there for the code that asks: the library's own messages, by path.
    const issues = (error as ApiSchemaError).issues;
    expect(issues.map((issue) => issue.path)).toEqual(["token", "items.1.id"]);
    expect(issues[0]?.message.startsWith("Invalid type: Expected number but received")).toBe(true);
    expect(Object.keys(error as object)).not.toContain("issues");
  });

  it("a schema failing at many paths: the message lists the first five and counts the rest", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const Strict = v.object({
      a: v.string(),
      b: v.string(),
      c: v.string(),
      d: v.string(),
      e: v.string(),
      f: v.string(),
      g: v.string(),
    });
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/items", { schema: Strict }).catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiSchemaError(error) && [error.path, error.message, error.issues.length]).toEqual([
      "a",
      `GET ${resource.url}/items answered data that failed its schema at a, b, c, d, e and 2 more`,
      7,
    ]);
  });

  it("validates data with a Standard Schema (zod) and names the failing path", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const Items = z.object({ items: z.array(z.object({ id: z.number() })) });
    const { result } = await run(middleware, cookies, (api) => api.get("/items", { schema: Items }));
    expect("error" in result).toBe(true);
    const error = (result as { error: unknown }).error;
    expect(isApiSchemaError(error) && error.path).toBe("items.1.id");
    expect(isApiError(error)).toBe(true);
    expect(String(error)).toContain("items.1.id");
    const Me = z.object({ name: z.string() });
    const ok = await run(middleware, cookies, (api) => api.get("/me", { schema: Me }));
    const typed: { name: string } = unwrap(ok.result).data;
    expect(typed.name).toBe("alice");
  });

  it("sends JSON bodies and returns JSON, text or nothing", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => ({
      posted: await api.post<{ received: unknown }>("/echo", { a: 1 }),
      text: await api.get<string>("/text", { responseType: "text" }),
      notJson: await api.get("/text").catch((error: unknown) => error),
    }));
    const { posted, text, notJson } = unwrap(result);
    expect(posted.status).toBe(201);
    expect(posted.data.received).toEqual({ a: 1 });
    expect(text.data).toBe("not json");
    expect(isApiError(notJson) && notJson.code).toBe("ERR_TOKENKEEP_API_INVALID_BODY");
  });

  it("an error carries status and parsed body, is recognised by its guard, and never shows the token", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) => api.get("/missing?secret=q"));
    const error = (result as { error: unknown }).error;
    expect(isApiHttpError(error)).toBe(true);
    if (!isApiHttpError<{ error: string }>(error)) return;
    expect(error.status).toBe(404);
    expect(error.data).toEqual({ error: "no such thing" });
    expect(error.message).toBe(`GET ${resource.url}/missing answered 404`);
    const printed = `${JSON.stringify(error)} ${String(error)} ${error.stack}`;
    expectNoSecretIn(printed, ["at-0", /secret=q/], "the error's renderings");
    // A copy of the package installed twice: another class, the same brand and code.
    const foreign = Object.defineProperty(
      Object.assign(new Error("x"), { code: "ERR_TOKENKEEP_API_HTTP" }),
      Symbol.for("tokenkeep.error"),
      { value: true },
    );
    expect(isApiHttpError(foreign)).toBe(true);
    expect(isApiError({ code: "ERR_TOKENKEEP_API_HTTP" })).toBe(false);
  });

  it("a 401 inside the request renews the session once (5 parallel calls) and replays each call once", async () => {
    const { upstream, redeemed } = makeUpstream(); // at-0 is not accepted: the API answers 401
    const middleware = create(upstream);
    const cookies = await sessionCookies(session(0));
    const { result, context } = await run(middleware, cookies, (api) =>
      Promise.all(Array.from({ length: 5 }, () => api.get<{ name: string }>("/me"))),
    );
    const answers = unwrap(result);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(redeemed).toEqual(["rt-0"]);
    const sent = seen.map((hit) => hit.authorization);
    expect(sent.filter((value) => value === "Bearer at-0")).toHaveLength(5);
    expect(sent.filter((value) => value === "Bearer at-1")).toHaveLength(5);
    // The renewed session reached the cookies.
    const written = await readSessionCookie({
      jar: {
        ...context.cookies,
        get: (name: string) => {
          const value = cookieValues(setCookies(context))[name];
          return value === undefined ? undefined : { value };
        },
        has: (name: string) => cookieValues(setCookies(context))[name] !== undefined,
      } as never,
      secure: false,
      settings,
      sealer: createCookieSealer([SECRET], "tokenkeep"),
      now: Date.now,
    });
    expect(written?.accessToken).toBe("at-1");
    // locals.tokenkeep follows the renewal (its fields are kept current, not read once).
    const { tokenkeep } = context.locals as { tokenkeep: { signedIn: boolean; expiresAt?: number } };
    expect(tokenkeep.expiresAt).toBe(written?.expiresAt);
  });

  it("a POST answered 401 is replayed once with its body after the renewal", async () => {
    const { upstream, redeemed } = makeUpstream();
    const middleware = create(upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.post<{ received: unknown }>("/echo", { a: 1 }),
    );
    const posted = unwrap(result);
    expect(posted.status).toBe(201);
    expect(posted.data.received).toEqual({ a: 1 });
    expect(redeemed).toEqual(["rt-0"]);
    expect(seen.map((hit) => hit.authorization)).toEqual(["Bearer at-0", "Bearer at-1"]);
  });

  it("a 401 the renewal cannot cure: SessionExpiredError when the session ended, else ApiHttpError through the error interceptors", async () => {
    const cookies = await sessionCookies(session(0));
    const failing = (failure: () => Error): Upstream => ({
      signIn: async () => {
        throw new Error("not used");
      },
      refresh: async () => {
        throw failure();
      },
    });
    const ended = create(failing(() => new OAuthError({ error: "invalid_grant", status: 400 })));
    const first = await run(ended, cookies, (api) => api.get("/me"));
    expect(isSessionExpiredError((first.result as { error: unknown }).error)).toBe(true);
    // The session ended inside the request: locals.tokenkeep says so from then on.
    expect((first.context.locals as { tokenkeep: { signedIn: boolean } }).tokenkeep.signedIn).toBe(false);

    const errors: string[] = [];
    const busy = create(
      // The upstream's own 503 (with Retry-After): the token is intact, a transient failure.
      failing(
        () =>
          new InvalidResponseError("refresh answered 503", {
            status: 503,
            transient: true,
            retryAfterMs: 1_000,
          }),
      ),
      {
        interceptors: { error: [({ error }) => void errors.push(error.name)] },
      },
    );
    const second = await run(busy, cookies, (api) => api.get("/me"));
    const error = (second.result as { error: unknown }).error;
    expect(isApiHttpError(error) && error.status).toBe(401);
    expect(errors).toEqual(["ApiHttpError"]);
  });

  it("a 401 after the response started never rotates: SessionExpiredError", async () => {
    const { upstream, redeemed } = makeUpstream();
    const middleware = create(upstream);
    const cookies = await sessionCookies(session(0));
    // A component rendering while the page streams: its call runs after the middleware returned.
    const { locals } = await run(middleware, cookies, async () => undefined);
    const error = await locals.api.get("/me?q=secret").catch((caught: unknown) => caught);
    expect(isSessionExpiredError(error) && [error.reason, error.message]).toEqual([
      "response-started",
      `GET ${resource.url}/me answered 401 and the response has already started, so the session is not ` +
        "renewed now (the next request renews it)",
    ]);
    expect(isApiError(error)).toBe(true);
    expect(redeemed).toEqual([]);
  });

  it("a 401 whose renewal fails (the response started, the session ended): its body is cancelled, the connection let go", async () => {
    const failing: Upstream = {
      signIn: async () => {
        throw new Error("not used");
      },
      refresh: async () => {
        throw new OAuthError({ error: "invalid_grant", status: 400 });
      },
    };
    const cookies = await sessionCookies(session(0));
    // Inside the request: the renewal ends the session.
    const ended = await run(create(failing), cookies, (api) => api.get("/unauthorized-stream"));
    expect(isSessionExpiredError((ended.result as { error: unknown }).error)).toBe(true);
    await vi.waitFor(() => expect(released).toEqual(["/unauthorized-stream"]), { timeout: 2_000 });
    // Once the response has started: nothing is renewed.
    const { locals } = await run(create(makeUpstream().upstream), cookies, async () => undefined);
    const late = await locals.api.get("/unauthorized-stream").catch((error: unknown) => error);
    expect(isSessionExpiredError(late) && late.reason).toBe("response-started");
    await vi.waitFor(() => expect(released).toHaveLength(2), { timeout: 2_000 });
  });

  it("a 401 after the response started, to a token this request already renewed: replayed with the new one, nothing rotated", async () => {
    const { upstream, redeemed } = makeUpstream();
    const middleware = create(upstream);
    const cookies = await sessionCookies(session(0));
    let early: Promise<unknown> = Promise.resolve();
    const { result } = await run(middleware, cookies, async (api) => {
      // Sent with at-0 and answered only once the response has started (a streaming component's call).
      early = api.get<{ held: boolean }>("/held").catch((error: unknown) => error);
      while (held.length < 1) await new Promise((resolve) => setImmediate(resolve));
      // Meanwhile another call meets the 401 and renews the session: at-1, rt-1, cookies written.
      return api.get("/me");
    });
    expect(unwrap(result).data).toMatchObject({ name: "alice" });
    let settled = false;
    void early.then(() => {
      settled = true;
    });
    sendJson(held.shift()!, 401, { error: "invalid_token" }, { "www-authenticate": "Bearer" });
    // The replay arrives (or the call settles without one: the assertion below then says how).
    while (held.length < 1 && !settled) await new Promise((resolve) => setImmediate(resolve));
    if (!settled) sendJson(held.shift()!, 200, { held: true });
    const late = (await early) as { data: unknown };
    expect(late.data).toEqual({ held: true });
    expect(seen.filter((hit) => hit.path === "/held").map((hit) => hit.authorization)).toEqual([
      "Bearer at-0",
      "Bearer at-1",
    ]);
    expect(redeemed).toEqual(["rt-0"]);
  });

  it("the timeout also bounds reading the body (a typed timeout error)", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { timeoutMs: 150 });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/slow-body").catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiError(error) && [error.code, error.message]).toEqual([
      "ERR_TOKENKEEP_API_TIMEOUT",
      `GET ${resource.url}/slow-body took longer than its timeout`,
    ]);
  });

  it("one timeout covers the answer and its body together (headers in time, the body late)", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { timeoutMs: 180, retry: 0 });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/late-body", which === "ky" ? { timeoutMs: 180 } : {}).catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiError(error) && error.code).toBe("ERR_TOKENKEEP_API_TIMEOUT");
  });

  it("timeoutMs: false sets no timer of the client's own: the late body arrives, and the common call sends no signal", async () => {
    valid.add("at-0");
    const signals: (AbortSignal | undefined)[] = [];
    const middleware = create(makeUpstream().upstream, {
      timeoutMs: false,
      retry: 0,
      fetch: (input: RequestInfo | URL, init?: RequestInit) => {
        signals.push(init?.signal ?? undefined);
        return globalThis.fetch(input, init);
      },
    });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) => api.get<{ late: boolean }>("/late-body"));
    expect(unwrap(result).data).toEqual({ late: true });
    // ky hands over a Request, which always has a signal: only the fetch path can show it sends none.
    if (which === "fetch") expect(signals).toEqual([undefined]);
  });

  it("timeoutMs: false arms no timer at all: an answer held for 11 s (fake time) arrives, where the same call with a 10 s limit times out", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { timeoutMs: false, retry: 0 });
    const cookies = await sessionCookies(session(0));
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { result } = await run(middleware, cookies, async (api) => {
        const unbounded = api.get<{ held: boolean }>("/held");
        // The control: a timer of 10 s (the client's default) does fire in this fake time.
        const bounded = api.get("/held", { timeoutMs: 10_000 }).catch((error: unknown) => error);
        while (held.length < 2) await new Promise((resolve) => setImmediate(resolve));
        vi.advanceTimersByTime(11_000);
        for (const response of held.splice(0)) sendJson(response, 200, { held: true });
        return [await unbounded, await bounded] as const;
      });
      const [unbounded, bounded] = unwrap(result);
      expect(unbounded.data).toEqual({ held: true });
      expect(isApiError(bounded) && bounded.code).toBe("ERR_TOKENKEEP_API_TIMEOUT");
    } finally {
      vi.useRealTimers();
    }
  });

  it("a call's own timeoutMs: false lifts the client's timer for that call only", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { timeoutMs: 150, retry: 0 });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => [
      await api.get<{ late: boolean }>("/late-body", { timeoutMs: false }),
      await api.get("/late-body").catch((error: unknown) => error),
    ]);
    const [unbounded, bounded] = unwrap(result) as [{ data: unknown }, unknown];
    expect(unbounded.data).toEqual({ late: true });
    expect(isApiError(bounded) && bounded.code).toBe("ERR_TOKENKEEP_API_TIMEOUT");
  });

  it("an answer whose body was already read (a custom fetch that consumed it): a TypeError saying so, not a network error", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, {
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const response = await globalThis.fetch(input, init);
        if (response.ok) await response.text(); // a bug: the body is gone, the answer goes on
        return response;
      },
    });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/me").catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(`GET ${resource.url}/me: the answer's body was already read`);
  });

  it("a body that breaks off while it is read: a typed, transient network error", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { timeoutMs: 5_000, retry: 0 });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/broken-body").catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiError(error) && [error.code, error.transient, error.message]).toEqual([
      "ERR_TOKENKEEP_API_NETWORK",
      true,
      `GET ${resource.url}/broken-body broke off while its answer was read`,
    ]);
  });

  it("retries idempotent requests only", async () => {
    const middleware = create(makeUpstream().upstream, { retry: 2 });
    const { result } = await run(middleware, {}, async (api) => ({
      get: await api.get<{ ok: boolean }>("/flaky"),
      post: await api.post("/flaky-post", { a: 1 }).catch((error: unknown) => error),
    }));
    const { get, post } = unwrap(result);
    expect(get.data.ok).toBe(true);
    expect(seen.filter((hit) => hit.path === "/flaky")).toHaveLength(3);
    expect(isApiHttpError(post) && post.status).toBe(503);
    expect(seen.filter((hit) => hit.path === "/flaky-post")).toHaveLength(1);
  });

  it("times out, and honours the caller's AbortSignal", async () => {
    const middleware = create(makeUpstream().upstream, { timeoutMs: 100, retry: 0 });
    const { result } = await run(middleware, {}, async (api) => {
      const timedOut = await api.get("/hang").catch((error: unknown) => error);
      const controller = new AbortController();
      const aborted = api
        .get("/hang", { signal: controller.signal, timeoutMs: 10_000 })
        .catch((error: unknown) => error);
      controller.abort();
      return { timedOut, aborted: await aborted };
    });
    const { timedOut, aborted } = unwrap(result);
    expect(isApiError(timedOut) && timedOut.code).toBe("ERR_TOKENKEEP_API_TIMEOUT");
    expect(isApiError(aborted) && aborted.code).toBe("ERR_TOKENKEEP_API_ABORTED");
  });

  it("a timeout's error, logged whole (cause included), shows neither the token nor the query", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { timeoutMs: 100, retry: 0 });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/hang?secret-query=1").catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiError(error) && error.code).toBe("ERR_TOKENKEEP_API_TIMEOUT");
    const { inspect } = await import("node:util");
    const logged = inspect(error, { depth: 8 });
    expectNoSecretIn(logged, ["at-0", /secret-query/], "the inspected error");
  });

  it("an access token no header can carry (a line break from the upstream): a typed error naming neither it nor the header, nothing sent", async () => {
    const middleware = create(makeUpstream().upstream);
    const broken = { ...session(0), accessToken: "at-line\nbreak-secret" };
    const cookies = await sessionCookies(broken);
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/me").catch((error: unknown) => error),
    );
    const error = unwrap(result);
    const { inspect } = await import("node:util");
    expectNoSecretIn(inspect(error, { depth: 8 }), [/at-line/, /break-secret/], "the inspected error");
    expect(isTokenkeepError(error) && [error.code, error.transient]).toEqual([
      "ERR_TOKENKEEP_INVALID_RESPONSE",
      false,
    ]);
    expect(seen).toEqual([]);
  });

  it("bounds the replay after a 401 by the timeout too (ky's own timer has stopped by then)", async () => {
    const middleware = create(makeUpstream().upstream, { timeoutMs: 150, retry: 0 });
    const cookies = await sessionCookies(session(0)); // at-0 is not accepted: 401, renewal, replay
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/hang-when-renewed").catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiError(error) && error.code).toBe("ERR_TOKENKEEP_API_TIMEOUT");
  });

  it("a 401 that is not replayed (the renewal hands out the same token): its body is read within the call's limit", async () => {
    // No refresh token: the renewal keeps the session, so the 401 is final and its body is read.
    const { refreshToken: _, ...unrenewable } = session(0);
    const middleware = create(makeUpstream().upstream, { timeoutMs: 150, retry: 0 });
    const started = performance.now();
    const { result } = await run(middleware, await sessionCookies(unrenewable), (api) =>
      api.get("/slow-401").catch((error: unknown) => error),
    );
    const error = unwrap(result);
    // The answer's status, its unreadable body left out; well before the test's own 5 s limit.
    expect(isApiHttpError(error) && [error.status, error.data]).toEqual([401, undefined]);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(seen.filter((request) => request.path === "/slow-401")).toHaveLength(1);
  });

  it("a call's own timeoutMs bounds its replay after a 401 too, a lower one and false alike", async () => {
    // No timer of the client's own: only the call's 150 ms can end the replay that never answers.
    const unbounded = create(makeUpstream().upstream, { timeoutMs: false, retry: 0 });
    const hanging = await run(unbounded, await sessionCookies(session(0)), (api) =>
      api.get("/hang-when-renewed", { timeoutMs: 150 }).catch((error: unknown) => error),
    );
    const error = unwrap(hanging.result);
    expect(isApiError(error) && error.code).toBe("ERR_TOKENKEEP_API_TIMEOUT");
    // The client's 150 ms, lifted for one call: its replay answered after 300 ms arrives.
    const bounded = create(makeUpstream().upstream, { timeoutMs: 150, retry: 0 });
    const late = await run(bounded, await sessionCookies(session(0)), (api) =>
      api.get<{ late: boolean }>("/late-when-renewed", { timeoutMs: false }),
    );
    expect(unwrap(late.result).data).toEqual({ late: true });
  });

  it("the replay after a 401 goes out under a limit timer of its own, cleared once the call settles: none is left pending", async () => {
    // The client's limit timers, told apart from the runtime's own (undici's) by their length.
    const LIMIT_MS = 43_210;
    using timers = watchLimitTimers(LIMIT_MS);
    const { upstream, redeemed } = makeUpstream();
    /** Limit timers pending as each attempt goes out. */
    const pendingAtSend: number[] = [];
    const middleware = create(upstream, {
      timeoutMs: LIMIT_MS,
      retry: 0,
      fetch: (input: RequestInfo | URL, init?: RequestInit) => {
        pendingAtSend.push(timers.pending());
        return globalThis.fetch(input, init);
      },
    });
    const { result } = await run(middleware, await sessionCookies(session(0)), async (api) => {
      const me = await api.get<{ name: string }>("/me"); // 401, renewal, replay answered
      return { me: me.data, pendingAfter: timers.pending() };
    });
    expect(redeemed).toEqual(["rt-0"]);
    expect(seen.map((entry) => entry.authorization)).toEqual(["Bearer at-0", "Bearer at-1"]);
    // Each attempt, the replay included, goes out under exactly one limit; none outlives the call
    // (an `AbortSignal.timeout` would hold its timer for 43 s after it).
    expect(pendingAtSend).toEqual([1, 1]);
    expect(unwrap(result)).toEqual({ me: { name: "alice", tag: null }, pendingAfter: 0 });
  });

  it("a URL no attempt could send is the caller's mistake: a TypeError at once, nothing sent or retried, no query in it", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { baseURL: undefined, origins: [resource.url] });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => [
      await api.get("/orders?token=secret").catch((error: unknown) => error),
      await api.get("ftp://files.test/x?token=secret").catch((error: unknown) => error),
      await api.get("//user:s3cret@api.test/x?q=1").catch((error: unknown) => error),
      await api.get("//user:pa?ss@api.test/x").catch((error: unknown) => error),
      await api.get("alice:s3cret@api.test/x").catch((error: unknown) => error),
    ]);
    const [relative, scheme, userPart, questionMark, userAsScheme] = unwrap(result) as (TypeError & {
      code?: string;
    })[];
    expect([relative?.name, relative?.code, relative?.message]).toEqual([
      "TypeError",
      "ERR_TOKENKEEP_API_INVALID_URL",
      "@tokenkeep/astro: GET /orders: a relative URL needs api.baseURL in the tokenkeep config",
    ]);
    expect([scheme?.code, scheme?.message]).toEqual([
      "ERR_TOKENKEEP_API_INVALID_URL",
      "@tokenkeep/astro: GET: expected an http(s) URL",
    ]);
    // A user part is no more shown than a query.
    expect(userPart?.message).toBe(
      "@tokenkeep/astro: GET //api.test/x: a relative URL needs api.baseURL in the tokenkeep config",
    );
    expect(questionMark?.message).toBe(
      "@tokenkeep/astro: GET //api.test/x: a relative URL needs api.baseURL in the tokenkeep config",
    );
    expect(userAsScheme?.message).toBe("@tokenkeep/astro: GET: expected an http(s) URL");
    expect(isApiError(relative)).toBe(false);
    expect(via).toEqual([]);
  });

  it("call options no attempt could honour, or an http URL without // beside a baseURL: a TypeError at once, never a transient network error or timeout, nothing sent", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const calls: Array<[string, (api: ApiClient) => Promise<unknown>]> = [
      ["timeoutMs", (api) => api.get("/me", { timeoutMs: 0 })],
      ["timeoutMs", (api) => api.get("/me", { timeoutMs: Number.NaN })],
      ["timeoutMs", (api) => api.get("/me", { timeoutMs: 3_000_000_000 })],
      ["retry", (api) => api.get("/me", { retry: -1 })],
      ["retry", (api) => api.get("/me", { retry: 1.5 })],
      ["responseType", (api) => api.get("/me", { responseType: "blob" as "json" })],
      ["method", (api) => api.request("/me", { method: "CONNECT" })],
      ["method", (api) => api.request("/me", { method: "GE T" })],
    ];
    const { result } = await run(middleware, cookies, async (api) => ({
      options: await Promise.all(calls.map(([, call]) => call(api).catch((error: unknown) => error))),
      url: await api.get("https:elsewhere.test/x?token=secret").catch((error: unknown) => error),
    }));
    const { options, url } = unwrap(result) as {
      options: (TypeError & { code?: string })[];
      url: TypeError & { code?: string };
    };
    expect(options.map((error) => [error.name, error.code, error.message.split(": ")[1]])).toEqual(
      calls.map(([option]) => ["TypeError", "ERR_TOKENKEEP_INVALID_OPTIONS", option]),
    );
    expect([url.name, url.code, url.message]).toEqual([
      "TypeError",
      "ERR_TOKENKEEP_API_INVALID_URL",
      "@tokenkeep/astro: GET: an http(s) URL needs // after its scheme",
    ]);
    expect(seen).toEqual([]);
  });

  it("a URL that does not parse (a port past 65535, an unclosed IPv6 bracket; absolute or relative): the client's TypeError, never the runtime's quoting it with its query", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => [
      await api.get("https://api.test:99999/x?token=secret-q").catch((error: unknown) => error),
      await api.get("http://[::1/x?token=secret-q").catch((error: unknown) => error),
      await api.get("//[::1/x?token=secret-q").catch((error: unknown) => error),
    ]);
    const errors = unwrap(result) as (TypeError & { code?: string })[];
    const { inspect } = await import("node:util");
    for (const error of errors) expectNoSecretIn(inspect(error), /secret-q/, "the inspected error");
    expect(errors.map((error) => [error.code, error.message])).toEqual([
      ["ERR_TOKENKEEP_API_INVALID_URL", "@tokenkeep/astro: GET https://api.test:99999/x: not a URL"],
      ["ERR_TOKENKEEP_API_INVALID_URL", "@tokenkeep/astro: GET http://[::1/x: not a URL"],
      ["ERR_TOKENKEEP_API_INVALID_URL", "@tokenkeep/astro: GET //[::1/x: not a URL"],
    ]);
    expect(seen).toEqual([]);
    // Signed out, and outside a request (no auth hook parses it first: fetch's refusal quotes it too).
    const anonymous = await run(middleware, {}, async (api) => [
      await api.get("https://api.test:99999/x?token=secret-q").catch((error: unknown) => error),
      await api.request("http://[::1/x?token=secret-q", { method: "HEAD" }).catch((error: unknown) => error),
    ]);
    const refused = [
      ...(unwrap(anonymous.result) as unknown[]),
      await importedApi.get("https://api.test:99999/x?token=secret-q").catch((error: unknown) => error),
    ] as (TypeError & { code?: string })[];
    for (const error of refused) expectNoSecretIn(inspect(error), /secret-q/, "the inspected error");
    expect(refused.map((error) => [error.code, error.message])).toEqual([
      ["ERR_TOKENKEEP_API_INVALID_URL", "@tokenkeep/astro: GET https://api.test:99999/x: not a URL"],
      ["ERR_TOKENKEEP_API_INVALID_URL", "@tokenkeep/astro: HEAD http://[::1/x: not a URL"],
      ["ERR_TOKENKEEP_API_INVALID_URL", "@tokenkeep/astro: GET https://api.test:99999/x: not a URL"],
    ]);
    expect(seen).toEqual([]);
  });

  it("a call's header that no request can carry (a line break or NUL inside its value, a name that is no token): a TypeError that quotes no value, nothing sent", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => [
      await api
        .get("/me", { headers: { "x-api-key": "key-secret-1\nmore" } })
        .catch((error: unknown) => error),
      await api.get("/me", { headers: { "x-api-key": "key-\0secret-2" } }).catch((error: unknown) => error),
      await api
        .post("/me", {}, { headers: { "x-api-key": "key-secret-3\r\nx" } })
        .catch((error: unknown) => error),
      await api.get("/me", { headers: { "bad name": "key-secret-4" } }).catch((error: unknown) => error),
    ]);
    const errors = unwrap(result) as (TypeError & { code?: string })[];
    const { inspect } = await import("node:util");
    for (const error of errors) expectNoSecretIn(inspect(error), /secret/, "the inspected error");
    expect(errors.map((error) => [error.name, error.code])).toEqual(
      Array(4).fill(["TypeError", "ERR_TOKENKEEP_INVALID_OPTIONS"]),
    );
    expect(seen).toEqual([]);
  });

  it("a URL object (JavaScript callers) is sent as its text is", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.get<{ name: string }>(new URL("/me", resource.url) as unknown as string),
    );
    expect(unwrap(result).data.name).toBe("alice");
  });

  it("a URL with a user part is one no attempt could send: a TypeError naming neither it nor the query, nothing sent", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const withUser = resource.url.replace("http://", "http://alice:s3cret-pw@");
    const { result } = await run(middleware, cookies, async (api) => [
      await api.get(`${withUser}/me?q=1`).catch((error: unknown) => error),
      await api.post(`${withUser}/echo`, { a: 1 }).catch((error: unknown) => error),
    ]);
    for (const error of unwrap(result) as (TypeError & { code?: string })[]) {
      expect([error.name, error.code]).toEqual(["TypeError", "ERR_TOKENKEEP_API_INVALID_URL"]);
      expect(error.message).toMatch(
        /^@tokenkeep\/astro: (GET|POST) http:\/\/127\.0\.0\.1:\d+\/(me|echo): a URL with a user part cannot be sent/,
      );
      expect(JSON.stringify(error) + String(error.message) + String(error.cause)).not.toContain("s3cret-pw");
    }
    expect(seen).toEqual([]);
    expect(via).toEqual([]);
  });

  it("runs request, response and error interceptors, each with one state object", async () => {
    valid.add("at-0");
    const states: string[] = [];
    const middleware = create(makeUpstream().upstream, {
      interceptors: {
        request: [
          ({ request, signedIn }) => {
            states.push(`request signedIn=${signedIn}`);
            request.headers.set("x-tag", "tagged");
          },
        ],
        response: [({ response }) => void states.push(`response ${response.status}`)],
        error: [({ error }) => void states.push(`error ${error.name}`)],
      },
    });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => ({
      me: await api.get<{ tag: string }>("/me"),
      missing: await api.get("/missing").catch((error: unknown) => error),
    }));
    expect(unwrap(result).me.data.tag).toBe("tagged");
    expect(states).toEqual([
      "request signedIn=true",
      "response 200",
      "request signedIn=true",
      "response 404",
      "error HTTPError",
    ]);
  });

  it("decides Authorization on the request an interceptor returns: one re-targeted to another origin gets none", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, {
      interceptors: {
        request: [
          ({ request }) =>
            new URL(request.url).pathname === "/elsewhere"
              ? new Request(`${other.url}/moved`, request)
              : undefined,
        ],
      },
    });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => ({
      moved: await api.get("/elsewhere"),
      me: await api.get<{ name: string }>("/me"),
    }));
    expect(unwrap(result).moved.data).toEqual({ other: true });
    expect(seen.map((entry) => [entry.host, entry.path, entry.authorization])).toEqual([
      ["other", "/moved", undefined],
      ["resource", "/me", "Bearer at-0"],
    ]);
  });

  // The fetch path's hand-overs: what its first attempt did not settle continues through ky, as a
  // call through ky alone would have from there.
  const first = which === "fetch" ? "fetch" : "ky";

  it("a 503 then 200: ky retries after its own backoff, the retry budget spent by the first attempt", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { retry: 1 });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => ({
      recovered: await api.get<{ name: string }>("/busy-once"),
      down: await api.get("/down").catch((error: unknown) => error),
    }));
    const { recovered, down } = unwrap(result);
    expect(recovered.data.name).toBe("alice");
    const [sent, retried] = hits.get("/busy-once") ?? [];
    expect(retried! - sent!).toBeGreaterThanOrEqual(290); // ky's first backoff: 300 ms
    // retry: 1 means two attempts in all, whichever sent the first.
    expect(isApiHttpError(down) && [down.status, down.data, down.message]).toEqual([
      503,
      { error: "down" },
      `GET ${resource.url}/down answered 503`,
    ]);
    expect(seen.filter((entry) => entry.path === "/down")).toHaveLength(2);
    expect(via).toEqual([first, "ky", first, "ky"]);
    expect(seen.map((entry) => entry.authorization)).toEqual(Array(4).fill("Bearer at-0"));
  });

  it("a Retry-After longer than the call's timeoutMs is waited only timeoutMs before the retry", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { timeoutMs: 200, retry: 1 });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      // Without a bound the call would wait the hour the API asked for: this one gives up after 5 s.
      Promise.race([
        api.get<{ name: string }>("/wait-an-hour"),
        new Promise((resolve) => setTimeout(resolve, 5_000, "still waiting")),
      ]),
    );
    expect(unwrap(result)).toMatchObject({ data: { name: "alice" } });
    const [sent, retried] = hits.get("/wait-an-hour") ?? [];
    expect(retried! - sent!).toBeGreaterThanOrEqual(190);
    expect(via).toEqual([first, "ky"]);
  });

  it("a timeout on the first attempt: ky's timeout error, not retried (ky retries no timeout)", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream, { timeoutMs: 100, retry: 2 });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/hang-once").catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiError(error) && [error.code, error.message, error.transient]).toEqual([
      "ERR_TOKENKEEP_API_TIMEOUT",
      `GET ${resource.url}/hang-once took longer than its timeout`,
      true,
    ]);
    expect(hits.get("/hang-once")).toHaveLength(1);
    expect(via).toEqual([first]);
  });

  it("an unreachable API: ky's network error after its retries", async () => {
    const closed = await listen();
    const url = closed.url;
    await closed.close();
    const middleware = create(makeUpstream().upstream, { retry: 1, origins: [url] });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.get(`${url}/x?q=1`).catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiError(error) && [error.code, error.message]).toEqual([
      "ERR_TOKENKEEP_API_NETWORK",
      `GET ${url}/x could not be reached`,
    ]);
    expect(via).toEqual([first, "ky"]);
  });

  it("a 401, the renewal, then 200: one rotation, one replay with the new token", async () => {
    const { upstream, redeemed } = makeUpstream();
    const middleware = create(upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) => api.get<{ name: string }>("/me"));
    expect(unwrap(result).data.name).toBe("alice");
    expect(redeemed).toEqual(["rt-0"]);
    expect(seen.map((entry) => entry.authorization)).toEqual(["Bearer at-0", "Bearer at-1"]);
    expect(via).toEqual([first, "fetch"]); // the replay goes out through core's hook
  });

  it("a 401 whose challenge is about the request (insufficient_scope): the ApiHttpError, the session kept, nothing rotated", async () => {
    valid.add("at-0");
    const { upstream, redeemed } = makeUpstream();
    const middleware = create(upstream);
    const cookies = await sessionCookies(session(0));
    const { result, context } = await run(middleware, cookies, (api) => api.get("/scope"));
    const error = (result as { error: unknown }).error;
    expect(isApiHttpError(error) && [error.status, error.data]).toEqual([
      401,
      { error: "insufficient_scope" },
    ]);
    expect(redeemed).toEqual([]);
    expect(seen.map((entry) => entry.authorization)).toEqual(["Bearer at-0"]);
    expect(setCookies(context)).toEqual([]);
  });

  it("a 401 whose body is past 10 MiB (ky's bound on the error bodies it reads): the ApiHttpError without data", async () => {
    valid.add("at-0");
    const middleware = create(makeUpstream().upstream);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) =>
      api.get("/scope-huge").catch((error: unknown) => error),
    );
    const error = unwrap(result);
    expect(isApiHttpError(error) && [error.status, typeof error.data]).toEqual([401, "undefined"]);
  });

  it("a 401 twice (the renewed token refused too): the same ApiHttpError, one rotation, one replay", async () => {
    const redeemed: string[] = [];
    const refused: Upstream = {
      signIn: async () => {
        throw new Error("not used");
      },
      refresh: async ({ refreshToken }) => {
        redeemed.push(refreshToken);
        return { accessToken: "at-9", tokenType: "Bearer", expiresAt: Date.now() + 600_000, raw: {} };
      },
    };
    const middleware = create(refused);
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, (api) => api.get("/me?q=1"));
    const error = (result as { error: unknown }).error;
    expect(isApiHttpError(error) && [error.status, error.data, error.message, error.transient]).toEqual([
      401,
      { error: "invalid_token" },
      `GET ${resource.url}/me answered 401`,
      false,
    ]);
    expect(redeemed).toEqual(["rt-0"]);
    expect(seen.map((entry) => entry.authorization)).toEqual(["Bearer at-0", "Bearer at-9"]);
  });

  it("an API answering 401 to every token: one renewal per session per unauthorizedCooldownMs, the refusals counted", async () => {
    // The upstream issues new pairs, the resource server accepts none of them.
    const { upstream: broken, redeemed } = makeUpstream({ accepted: false });
    // A clock of the test's own: the cooldown's edges (29 s, 30 s) do not depend on how fast this runs.
    const start = Date.now();
    let offsetMs = 0;
    const now = () => start + offsetMs;
    const middleware = create(broken, {}, { now });
    const status = (result: { value: unknown } | { error: unknown }) => {
      const error = (result as { error: unknown }).error;
      return isApiHttpError(error) ? error.status : error;
    };

    // The first 401 renews (rt-0) and replays; the renewed token is refused too. A second call of
    // the same request meets the 401 with the new token: nothing is renewed.
    const first = await run(middleware, await sessionCookies(session(0)), async (api) => [
      await api.get("/me").catch((error: unknown) => error),
      await api.get("/me").catch((error: unknown) => error),
    ]);
    expect(unwrap(first.result).map((error) => isApiHttpError(error) && error.status)).toEqual([401, 401]);
    expect(redeemed).toEqual(["rt-0"]);
    expect(seen.map((entry) => entry.authorization)).toEqual(["Bearer at-0", "Bearer at-1", "Bearer at-1"]);
    expect(middleware.stats()).toMatchObject({ rotations: 1, invalidationsRefused: 1 });
    const renewed = cookieValues(setCookies(first.context));

    // The next requests carry the renewed session: within the cooldown they renew nothing, write
    // no cookie, and fail with the API's 401 (the mark travels with the session).
    for (const seconds of [1, 29]) {
      offsetMs = seconds * 1_000;
      const next = await run(middleware, renewed, (api) => api.get("/me"));
      expect(status(next.result)).toBe(401);
      expect(setCookies(next.context)).toEqual([]);
    }
    expect(redeemed).toEqual(["rt-0"]);
    expect(middleware.stats()).toMatchObject({ rotations: 1, invalidationsRefused: 3 });

    // Past the cooldown, a 401 renews once more.
    offsetMs = 30_001;
    const later = await run(middleware, renewed, (api) => api.get("/me"));
    expect(status(later.result)).toBe(401);
    expect(redeemed).toEqual(["rt-0", "rt-1"]);

    // 0 turns it off: every request meeting the 401 renews.
    redeemed.length = 0;
    const off = create(broken, { unauthorizedCooldownMs: 0 });
    const once = await run(off, await sessionCookies(session(0)), (api) => api.get("/me"));
    await run(off, cookieValues(setCookies(once.context)), (api) => api.get("/me"));
    expect(redeemed).toEqual(["rt-0", "rt-1"]);
  });

  it("a 401 within the cooldown after the response started is the API's 401, refused and counted (not SessionExpiredError)", async () => {
    const { upstream: broken, redeemed } = makeUpstream({ accepted: false });
    const start = Date.now();
    const middleware = create(broken, {}, { now: () => start });
    // A 401 renews the session (marked), the replay is refused too.
    const first = await run(middleware, await sessionCookies(session(0)), (api) =>
      api.get("/me").catch((error: unknown) => error),
    );
    expect(redeemed).toEqual(["rt-0"]);
    const renewed = cookieValues(setCookies(first.context));
    // A component's call after the middleware returned: within the cooldown nothing would be renewed
    // anyway, so the call fails with what the API answered.
    const { locals } = await run(middleware, renewed, async () => undefined);
    const error = await locals.api.get("/me").catch((caught: unknown) => caught);
    expect(isSessionExpiredError(error)).toBe(false);
    expect(isApiHttpError(error) && error.status).toBe(401);
    expect(redeemed).toEqual(["rt-0"]);
    expect(middleware.stats()).toMatchObject({ rotations: 1, invalidationsRefused: 1 });
  });

  it("a pair a 401 renewal produced keeps its mark in a request that picks it up before rendering (a successor, here or on another instance): the cooldown holds, nothing redeemed again", async () => {
    for (const where of ["same instance", "another instance"] as const) {
      seen.length = 0;
      const { upstream: broken, redeemed } = makeUpstream({ accepted: false });
      const start = Date.now();
      let offsetMs = 0;
      const now = () => start + offsetMs;
      const store = createMemoryStore({ now });
      const one = create(broken, {}, { now, store });
      const two = where === "same instance" ? one : create(broken, {}, { now, store });
      // 80 s left: outside the 60 s refresh window now, inside it 25 s later.
      const old = await sessionCookies({ ...session(0), expiresAt: start + 80_000 });

      // A 401 renews the session (rt-0 redeemed, marked); the API refuses the new token too.
      const first = await run(one, old, (api) => api.get("/me").catch((error: unknown) => error));
      const refused = unwrap(first.result);
      expect(isApiHttpError(refused) && refused.status).toBe(401);
      expect(redeemed, where).toEqual(["rt-0"]);

      // Another tab still holding the old pair, now due for rotation: the middleware picks up the
      // successor before the page renders, with the renewal's mark.
      offsetMs = 25_000;
      const picked = await run(two, old, async () => undefined);
      const pickedCookies = cookieValues(setCookies(picked.context));
      const written = await readSessionCookie({
        jar: makeContext("http://app.test/", { cookies: pickedCookies }).cookies,
        secure: false,
        settings,
        sealer: createCookieSealer([SECRET], "tokenkeep"),
        now,
      });
      expect(written?.accessToken, where).toBe("at-1");
      expect(written?.replacedRejected, where).toBe(true);
      expect(two.stats(), where).toMatchObject({ successorHits: 1 });

      // Its next 401, within the cooldown of the renewal, renews nothing (it redeemed rt-1 before).
      offsetMs = 26_000;
      const next = await run(two, pickedCookies, (api) => api.get("/me").catch((error: unknown) => error));
      expect(isApiHttpError(unwrap(next.result)), where).toBe(true);
      expect(redeemed, where).toEqual(["rt-0"]);
      expect(two.stats(), where).toMatchObject({ invalidationsRefused: 1 });
    }
  });

  it("never sends Authorization to another origin: not on the first attempt, a retry or after its 401", async () => {
    const { upstream, redeemed } = makeUpstream();
    const middleware = create(upstream, { retry: 1 });
    const cookies = await sessionCookies(session(0));
    const { result } = await run(middleware, cookies, async (api) => ({
      retried: await api.get(`${other.url}/busy-once`),
      refused: await api.get(`${other.url}/unauthorized`).catch((error: unknown) => error),
    }));
    const { retried, refused } = unwrap(result);
    expect(retried.data).toEqual({ other: true });
    expect(isApiHttpError(refused) && [refused.status, refused.data]).toEqual([
      401,
      { error: "who are you" },
    ]);
    expect(seen.map((entry) => [entry.host, entry.authorization])).toEqual([
      ["other", undefined],
      ["other", undefined],
      ["other", undefined],
    ]);
    expect(redeemed).toEqual([]);
    expect(via).toEqual([first, "ky", first]);
  });
});

describe("API client: which calls take the fetch path", () => {
  beforeAll(() => {
    path = "fetch";
  });

  it("a GET or HEAD without per-call options but headers, responseType, schema and timeoutMs, when no interceptor is configured; everything else ky", async () => {
    valid.add("at-0");
    const cookies = await sessionCookies(session(0));
    const plain = create(makeUpstream().upstream);
    await run(plain, cookies, async (api) => {
      await api.get("/me");
      await api.request("/me", { method: "HEAD" });
      await api.get("/me", { headers: { "x-tag": "a" }, responseType: "text" });
      await api.get("/me", { timeoutMs: 5_000 });
      await api.get("/me", { retry: 0 });
      await api.get("/me", { signal: new AbortController().signal });
      await api.get("/me", { searchParams: { a: 1 } });
      // Removing a client header: ky keeps it removed on its retries (a hand-over would merge it back).
      await api.get("/me", { headers: new Headers({ "x-client": "undefined" }) });
      await api.get("/me", { headers: { "x-client": undefined as unknown as string } });
      await api.delete("/me").catch(() => undefined);
      await api.post("/echo", { a: 1 });
    });
    expect(via).toEqual(["fetch", "fetch", "fetch", "fetch", "ky", "ky", "ky", "ky", "ky", "ky", "ky"]);
    expect(seen[2]?.authorization).toBe("Bearer at-0");
    via.length = 0;
    const intercepted = create(makeUpstream().upstream, { interceptors: { response: [() => undefined] } });
    await run(intercepted, cookies, (api) => api.get("/me"));
    expect(via).toEqual(["ky"]);
  });
});

describe("API client while the build prerenders", () => {
  it("locals.api rejects with ERR_TOKENKEEP_API_NOT_READY (the config is not loaded at build time)", async () => {
    const context = makeContext("http://localhost:4321/static") as APIContext;
    let error: unknown;
    await prerenderMiddleware(context, async () => {
      error = await (context.locals as unknown as { api: ApiClient }).api
        .get("/x")
        .catch((caught: unknown) => caught);
      return new Response("page");
    });
    expect(isApiError(error) && error.code).toBe("ERR_TOKENKEEP_API_NOT_READY");
  });
});

describe("API client: a renewed pair that cannot be stored", () => {
  it("still serves the request's calls, and the next request, holding the old pair, gets the same pair without a second redemption and stores it", async () => {
    const { upstream, redeemed } = makeUpstream();
    const events: string[] = [];
    const middleware = create(upstream, {}, { onEvent: (event) => events.push(event.type) });
    const cookies = await sessionCookies(session(0)); // at-0 is refused: the first call renews
    const context = makeContext("http://app.test/page", { cookies }) as APIContext;
    // Writing the renewed session fails (not for its size): the storage, not the session, is at fault.
    context.cookies.set = () => {
      throw new Error("the cookie jar refused the write");
    };
    let answer: unknown;
    await middleware(context, async () => {
      answer = await (context.locals as unknown as { api: ApiClient }).api
        .get<{ name: string }>("/me")
        .then((response) => response.data)
        .catch((error: unknown) => error);
      return new Response("page");
    });
    expect(answer).toEqual({ name: "alice", tag: null });
    expect(seen.map((entry) => entry.authorization)).toEqual(["Bearer at-0", "Bearer at-1"]);
    expect(redeemed).toEqual(["rt-0"]);
    expect(events).toEqual(["refresh-failure"]);

    const next = await run(middleware, cookies, (api) => api.get<{ name: string }>("/me"));
    expect(unwrap(next.result).data).toMatchObject({ name: "alice" });
    expect(redeemed).toEqual(["rt-0"]);
    expect(cookieValues(setCookies(next.context)).tokenkeep).toMatch(/^tk1\./);
  });
});
