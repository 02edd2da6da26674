import { createMemoryStore } from "@tokenkeep/core/memory-store";
import { describe, expect, it } from "vitest";
import { defineTokenkeepConfig } from "./index.js";
import { parseConfig, splitSecrets } from "./schema.js";

function thrown(run: () => unknown): TypeError & { code?: string; cause?: unknown } {
  try {
    run();
  } catch (error) {
    return error as TypeError & { code?: string };
  }
  throw new Error("expected a throw");
}

const endpoints = { baseURL: "https://api.test", login: "/auth/login", refresh: "/auth/refresh" };

describe("configuration", () => {
  it("applies the documented defaults", () => {
    const config = parseConfig({ upstream: { endpoints } });
    expect(config.cookie).toEqual({ name: "tokenkeep", maxAgeS: 2_592_000, maxBytes: 7_600 });
    expect(config.refreshWindowMs).toBe(60_000);
    expect(config.rotationTimeoutMs).toBe(10_000);
    expect(config.upstream).toMatchObject({
      endpoints: { contentType: "application/json", refreshRequestField: "refreshToken", timeoutMs: 30_000 },
    });
    expect(parseConfig({ upstream: { endpoints }, protect: { paths: ["/a/*"] } }).protect).toEqual({
      paths: ["/a/*"],
      exclude: [],
      signInPath: "/login",
      returnToParam: "returnTo",
    });
  });

  it("bad options throw a TypeError with ERR_TOKENKEEP_INVALID_OPTIONS naming each path", () => {
    const error = thrown(() =>
      defineTokenkeepConfig({
        upstream: { endpoints: { ...endpoints, baseURL: "ftp://x" } },
        refreshWindowMs: -1,
        ...({ cookies: {} } as object), // an unknown key
      }),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
    const text = `${error.message}\n${String((error.cause as { message?: string } | undefined)?.message ?? error.cause)}`;
    expect(text).toMatch(/refreshWindowMs/);
    expect(text).toMatch(/cookies/);
  });

  it("headers no request could carry (a line break or NUL in a value, a name that is not a token) are refused here, not quoted", () => {
    const error = thrown(() =>
      parseConfig({
        upstream: { endpoints: { ...endpoints, headers: { "x-client-key": "k1\nsecret-one" } } },
        api: { headers: { "x-api-key": "k2\u0000secret-two", "bad name": "fine" } },
      }),
    );
    expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
    const text = `${error.message} ${String(error.cause)}`;
    expect(text).toMatch(/upstream\.endpoints\.headers\.x-client-key: .*line break or NUL/);
    expect(text).toMatch(/api\.headers\.x-api-key: .*line break or NUL/);
    expect(text).toMatch(/api\.headers\.bad name: .*header name/);
    expect(text).not.toMatch(/secret-one|secret-two/);
    // Leading and trailing spaces and line breaks are trimmed by fetch: accepted.
    expect(
      parseConfig({ upstream: { endpoints }, api: { headers: { "x-api-key": " k3\n" } } }).api.headers,
    ).toEqual({
      "x-api-key": " k3\n",
    });
  });

  it("api.baseURL: no user part (fetch refuses such URLs, quoting them whole); the message does not quote it", () => {
    const error = thrown(() =>
      parseConfig({ upstream: { endpoints }, api: { baseURL: "https://svc:s3cret-pw@api.test/v1" } }),
    );
    expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
    expect(error.message).toMatch(/api\.baseURL: .*user part/);
    expect(`${error.message} ${String(error.cause)}`).not.toContain("s3cret-pw");
    expect(
      parseConfig({ upstream: { endpoints }, api: { baseURL: "https://api.test/v1" } }).api.origins,
    ).toEqual(["https://api.test"]);
  });

  it("cookie.maxBytes: a positive integer", () => {
    const upstream = { endpoints };
    expect(parseConfig({ upstream, cookie: { maxBytes: 3_800 } }).cookie.maxBytes).toBe(3_800);
    for (const maxBytes of [0, -1, 1.5, "8k"]) {
      expect(() => parseConfig({ upstream, cookie: { maxBytes: maxBytes as never } })).toThrow(
        /cookie\.maxBytes/,
      );
    }
  });

  it("api.timeoutMs: a positive number or false (no timer of the client's own), nothing else", () => {
    const upstream = { endpoints };
    expect(parseConfig({ upstream }).api.timeoutMs).toBe(10_000);
    expect(parseConfig({ upstream, api: { timeoutMs: false } }).api.timeoutMs).toBe(false);
    for (const timeoutMs of [0, -1, true, "10s"]) {
      expect(() => parseConfig({ upstream, api: { timeoutMs: timeoutMs as never } })).toThrow(
        /api\.timeoutMs/,
      );
    }
  });

  it("api.unauthorizedCooldownMs: 30 s by default (core's), 0 turns it off, nothing negative or non-numeric", () => {
    const upstream = { endpoints };
    expect(parseConfig({ upstream }).api.unauthorizedCooldownMs).toBe(30_000);
    expect(parseConfig({ upstream, api: { unauthorizedCooldownMs: 0 } }).api.unauthorizedCooldownMs).toBe(0);
    for (const value of [-1, "30s", 2_147_483_648]) {
      expect(() => parseConfig({ upstream, api: { unauthorizedCooldownMs: value as never } })).toThrow(
        /api\.unauthorizedCooldownMs/,
      );
    }
  });

  it("protect.paths: exact paths or a trailing /* only, and never the sign-in page", () => {
    const upstream = { endpoints };
    for (const pattern of ["/admin/**", "/account*", "/a/*/b"]) {
      expect(() => parseConfig({ upstream, protect: { paths: ["/ok", pattern] } })).toThrow(
        /protect\.paths\.1.*`\*` elsewhere matches nothing/s,
      );
    }
    expect(() => parseConfig({ upstream, protect: { paths: ["/*"] } })).toThrow(
      /protect\.paths\.0.*covers signInPath \(\/login\)/s,
    );
    expect(() =>
      parseConfig({ upstream, protect: { paths: ["/account/*"], signInPath: "/account/login" } }),
    ).toThrow(/covers signInPath \(\/account\/login\)/);
    expect(parseConfig({ upstream, protect: { paths: ["/account/*", "/admin"] } }).protect?.paths).toEqual([
      "/account/*",
      "/admin",
    ]);
  });

  it("protect.exclude: the same patterns, refused when it excludes nothing or a whole protected pattern; it lets /* cover an excluded signInPath", () => {
    const upstream = { endpoints };
    expect(() =>
      parseConfig({ upstream, protect: { paths: ["/account/*"], exclude: ["/account/x*"] } }),
    ).toThrow(/protect\.exclude\.0.*`\*` elsewhere matches nothing/s);
    expect(() =>
      parseConfig({ upstream, protect: { paths: ["/account/*"], exclude: ["/acount/help"] } }),
    ).toThrow(/protect\.exclude\.0: \/acount\/help excludes nothing/);
    expect(() =>
      parseConfig({
        upstream,
        protect: { paths: ["/settings", "/account/help/*"], exclude: ["/account/*"] },
      }),
    ).toThrow(/protect\.exclude\.0: \/account\/\* excludes all of protect\.paths\.1 \(\/account\/help\/\*\)/);
    expect(() =>
      parseConfig({ upstream, protect: { paths: ["/settings"], exclude: ["/settings"] } }),
    ).toThrow(/excludes all of protect\.paths\.0/);
    // Still refused while the sign-in page is not among the exclusions.
    expect(() => parseConfig({ upstream, protect: { paths: ["/*"], exclude: ["/about"] } })).toThrow(
      /protect\.paths\.0.*covers signInPath \(\/login\)/s,
    );
    const parsed = parseConfig({
      upstream,
      protect: { paths: ["/*"], exclude: ["/login", "/account/help/*"] },
    }).protect;
    expect(parsed?.exclude).toEqual(["/login", "/account/help/*"]);
    expect(parseConfig({ upstream, protect: { paths: ["/account/*"] } }).protect?.exclude).toEqual([]);
  });

  it("a mistake inside an upstream mode is reported at its path, with the nearest option", () => {
    const error = thrown(() =>
      parseConfig({ upstream: { endpoints: { ...endpoints, ...({ feilds: {} } as object) } } }),
    );
    expect(String(error.message)).toMatch(/upstream\.endpoints.*feilds.*fields/);
    expect(() => parseConfig({ upstream: {} as never })).toThrow(/exactly one of oauth, endpoints/);
    expect(() => parseConfig({ upstream: { endpoints, oauth: { issuer: "https://a" } } as never })).toThrow(
      /exactly one/,
    );
    expect(() => parseConfig({ upstream: { refresh: async () => ({}) as never } as never })).toThrow(
      /both signIn and refresh/,
    );
  });

  it("accepts an upstream made of functions, and an OAuth upstream (grants validates its own options)", () => {
    const upstream = { signIn: async () => ({}) as never, refresh: async () => ({}) as never };
    expect(parseConfig({ upstream }).upstream).toMatchObject({ signIn: upstream.signIn });
    expect(
      parseConfig({ upstream: { oauth: { issuer: "https://auth.test", clientId: "c", clientSecret: "s" } } })
        .upstream,
    ).toBeTruthy();
    expect(() => parseConfig({ upstream: { refresh: "nope" } as never })).toThrow(TypeError);
  });

  it("store: one without leases (acquire) is refused with the other options, not at the first rotation", () => {
    const upstream = { signIn: async () => ({}) as never, refresh: async () => ({}) as never };
    const memory = createMemoryStore();
    const { get, set, delete: remove } = memory;
    const error = thrown(() => parseConfig({ upstream, store: { get, set, delete: remove } }));
    expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
    expect(error.message).toMatch(/store: expected a store with leases \(get, set, delete and acquire\)/);
    expect(parseConfig({ upstream, store: memory }).store).toBe(memory);
  });

  it("secrets: a comma-separated environment value or a list, blanks dropped", () => {
    expect(splitSecrets(" new , old ,")).toEqual(["new", "old"]);
    expect(splitSecrets(["a", " "])).toEqual(["a"]);
    expect(splitSecrets(undefined)).toEqual([]);
  });
});
