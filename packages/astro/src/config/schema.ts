/**
 * The configuration a user writes in `src/tokenkeep.config.ts`, its zod schema and its defaults.
 * Parsed once, when the module is evaluated (`defineTokenkeepConfig`); a bad value throws a `TypeError`
 * with code `ERR_TOKENKEEP_INVALID_OPTIONS` listing `path: message` for each problem.
 */
import type { JsonValue, Store, TokenSet } from "@tokenkeep/core";
import { parseOptions } from "@tokenkeep/core/options";
import type { GrantOptions } from "@tokenkeep/grants";
import { z } from "zod";
import type { ApiInterceptors } from "../api/client.js";
import {
  DEFAULT_API_RETRY_LIMIT,
  DEFAULT_API_TIMEOUT_MS,
  DEFAULT_API_UNAUTHORIZED_COOLDOWN_MS,
  DEFAULT_CONTENT_TYPE,
  DEFAULT_COOKIE_MAX_AGE_S,
  DEFAULT_COOKIE_MAX_BYTES,
  DEFAULT_COOKIE_NAME,
  DEFAULT_REFRESH_REQUEST_FIELD,
  DEFAULT_REFRESH_WINDOW_MS,
  DEFAULT_RETURN_TO_PARAM,
  DEFAULT_ROTATION_SETTLE_MS,
  DEFAULT_ROTATION_TIMEOUT_MS,
  DEFAULT_SECRET_ENV,
  DEFAULT_SIGN_IN_PATH,
  DEFAULT_SUCCESSOR_TTL_MS,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
} from "../defaults.js";
import type { TokenkeepEvent } from "../events.js";
import { isProtected, patternCovers, patternsOverlap } from "../route-protection.js";

/** What a login or refresh answer parser returns (custom endpoints). */
export interface ParsedTokens {
  /** The access token. Secret. */
  readonly accessToken: string;
  /** The refresh token, when the answer has one (a refresh answer without one keeps the old one). */
  readonly refreshToken?: string | undefined;
  /** Expiry as epoch ms, epoch seconds (below 10^11) or an ISO date. Wins over `expiresIn`. */
  readonly expiresAt?: number | string | undefined;
  /** Lifetime in seconds from when the request was sent. */
  readonly expiresIn?: number | undefined;
  /** @default "Bearer" */
  readonly tokenType?: string | undefined;
  /** What to keep about the user (claims, profile); readable as `locals.tokenkeep.sessionPayload`. */
  readonly sessionPayload?: JsonValue | undefined;
}

/** Dotted paths (`data.tokens.access`) into a login or refresh answer. */
export interface FieldMapping {
  /** @default "accessToken", else "access_token" */
  readonly accessToken?: string | undefined;
  /** @default "refreshToken", else "refresh_token" */
  readonly refreshToken?: string | undefined;
  /** @default "expiresAt", else "expires_at" */
  readonly expiresAt?: string | undefined;
  /** @default "expiresIn", else "expires_in" */
  readonly expiresIn?: string | undefined;
  /** @default "tokenType", else "token_type" */
  readonly tokenType?: string | undefined;
  /** @default "sessionPayload", else "user" */
  readonly sessionPayload?: string | undefined;
}

/**
 * An upstream with its own login, refresh and logout endpoints (what astro-tokenkit calls `auth`).
 * Option names follow astro-tokenkit's, so a configuration maps one to one.
 */
export interface EndpointsUpstreamOptions {
  /** The API's base URL; the paths below are resolved against it. Read at runtime, e.g. from `process.env`. */
  readonly baseURL: string;
  /** The login path (POST). */
  readonly login: string;
  /** The refresh path (POST). */
  readonly refresh: string;
  /** The logout path (POST), when the API has one. */
  readonly logout?: string | undefined;
  /** @default "application/json" */
  readonly contentType?: "application/json" | "application/x-www-form-urlencoded" | undefined;
  /** Extra headers of the login, refresh and logout requests. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Extra fields of the login request. */
  readonly loginData?: Readonly<Record<string, JsonValue>> | undefined;
  /** Extra fields of the refresh request. */
  readonly refreshData?: Readonly<Record<string, JsonValue>> | undefined;
  /** @default "refreshToken" */
  readonly refreshRequestField?: string | undefined;
  /** Where the answers keep each field (dotted paths). */
  readonly fields?: FieldMapping | undefined;
  /** Reads a login answer's body (wins over `fields`). */
  readonly parseLogin?: ((body: unknown) => ParsedTokens) | undefined;
  /** Reads a refresh answer's body (wins over `fields`). */
  readonly parseRefresh?: ((body: unknown) => ParsedTokens) | undefined;
  /**
   * The path (POST) that says whether a refresh token is still unredeemed: the token goes in
   * `refreshRequestField`, the JSON answer's `active` boolean is read (RFC 7662's shape). With it, a
   * rotation whose answer was lost (a 5xx, a reset, a timeout) is checked after `rotationSettleMs`
   * instead of ending the session. A non-2xx answer means "cannot tell" (asked again later).
   * @default undefined (a rotation in doubt ends the session)
   */
  readonly introspect?: string | undefined;
  /**
   * Reads the introspection answer's body (wins over `active`): `true` only when the token is
   * unredeemed, `false` when it is dead; a throw means "cannot tell". Needs `introspect`.
   * @default undefined (the answer's `active` boolean)
   */
  readonly parseIntrospect?: ((body: unknown) => boolean) | undefined;
  /** @default 30_000 */
  readonly timeoutMs?: number | undefined;
  /** @default globalThis.fetch */
  readonly fetch?: typeof globalThis.fetch | undefined;
}

/**
 * An OAuth 2.0 authorization server: sign-in with the password grant, rotation with the refresh
 * token grant, sign-out revokes the refresh token (RFC 7009); all through `@tokenkeep/grants`, whose
 * options these are (`issuer` enables discovery).
 */
export interface OAuthUpstreamOptions extends GrantOptions {
  /** The revocation endpoint; discovered from `issuer` when omitted. */
  readonly revocationUrl?: string | URL | undefined;
  /** The scope requested at sign-in. */
  readonly scope?: string | readonly string[] | undefined;
  /**
   * Token introspection (RFC 7662) for rotations in doubt: a refresh whose answer was lost (a 500,
   * 502 or 504, a cut connection, a timeout) is checked `rotationSettleMs` later by introspecting the
   * refresh token with this client's credentials; still active -> redeemed once more, inactive -> the
   * session ends. `true` takes the endpoint from `issuer`'s metadata (`introspection_endpoint`); a URL
   * names it. The client must be allowed to introspect its own refresh tokens.
   * @default false (a rotation in doubt ends the session)
   */
  readonly introspection?: boolean | string | URL | undefined;
}

/** What the middleware calls. Any object with these functions is an upstream. */
export interface Upstream {
  /**
   * Exchanges credentials for a session's token set. Reject wrong credentials with a non-transient
   * `OAuthError` (from `@tokenkeep/core`, e.g. `invalid_grant`): `login()` then throws
   * `ERR_TOKENKEEP_SIGN_IN_REJECTED`; anything else is `ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE`, and the
   * injected sign-in route logs it.
   */
  signIn(
    credentials: Readonly<Record<string, string>>,
    context: {
      /**
       * Aborts when the sign-in is no longer waited for. An upstream of functions always gets one:
       * `login()` waits for its `signIn` at most 30 s (the built-in upstreams' own per-request
       * bound), then fails with `ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE` (its `cause` a `TimeoutError`)
       * even when the function ignores the signal; tokens it returns later are revoked with its
       * `signOut`. The built-in upstreams get none: they keep their own `timeoutMs`.
       * @default AbortSignal aborting after 30_000 ms (for an upstream of functions)
       */
      signal?: AbortSignal;
    },
  ): Promise<TokenSet>;
  /** Redeems a refresh token (called once per token across the deployment). */
  refresh(context: { refreshToken: string; previous: TokenSet; signal: AbortSignal }): Promise<TokenSet>;
  /**
   * Whether the upstream still holds `refreshToken` unredeemed (e.g. RFC 7662 introspection's
   * `active`): `true` only when it says so, `false` when the token is dead there, a throw when it
   * cannot tell. Called by one instance at a time, `rotationSettleMs` after a redemption got no
   * definite answer, and again every `rotationSettleMs` while it cannot tell; within half of the
   * rotation's time budget. `true` lets the rotation go ahead, `false` ends the session. Without it a
   * rotation in doubt ends the session (the token is never redeemed again; a sign-out revokes it).
   */
  isRefreshTokenActive?(context: {
    refreshToken: string;
    previous: TokenSet;
    signal: AbortSignal;
  }): Promise<boolean>;
  /** Ends the session upstream (revocation, logout endpoint). */
  signOut?(session: {
    accessToken: string;
    refreshToken?: string | undefined;
    signal?: AbortSignal;
  }): Promise<void>;
}

/** One of the upstream modes. */
export type UpstreamConfig =
  | { readonly oauth: OAuthUpstreamOptions }
  | { readonly endpoints: EndpointsUpstreamOptions }
  | Upstream;

/**
 * Route protection. Paths are the site's own, written without Astro's `base`: with `base: "/app"`,
 * `/account/*` protects `/app/account/...` and `signInPath` `/login` redirects to `/app/login`.
 */
export interface ProtectOptions {
  /**
   * Paths that need a session: exact (`/account`), or a prefix ending in `/*` (`/account/*` covers
   * `/account` and everything below). A page that a later middleware's `next("/path")` rewrote to
   * is checked only after it rendered: its answer is withheld without a session, but its
   * frontmatter (or endpoint handler) has run, signed out; rewrite with `context.rewrite()` to
   * keep it from running.
   */
  readonly paths: readonly string[];
  /**
   * Paths under `paths` that stay public, in the same syntax: with `paths: ["/account/*"]`,
   * `exclude: ["/account/help"]` leaves that one page open. An exclusion wins over any protected
   * pattern. One that matches no path of `paths` (it excludes nothing, a misspelling most likely), or
   * all of one of its patterns (remove that pattern instead), is refused; excluding `signInPath` lets
   * `paths` cover it (`paths: ["/*"], exclude: ["/login"]`).
   * @default []
   */
  readonly exclude?: readonly string[] | undefined;
  /** @default "/login" */
  readonly signInPath?: string | undefined;
  /** @default "returnTo" */
  readonly returnToParam?: string | undefined;
}

/** The session cookie. */
export interface CookieConfig {
  /** @default "tokenkeep" (sent as `__Host-tokenkeep` over https) */
  readonly name?: string | undefined;
  /** Shares the cookie with subdomains (the prefix becomes `__Secure-`). */
  readonly domain?: string | undefined;
  /** `Max-Age` in seconds when the refresh token's lifetime is unknown. @default 2_592_000 (30 days) */
  readonly maxAgeS?: number | undefined;
  /**
   * The longest sealed session the cookie may carry, in bytes, over all its chunks (each holds 3,800).
   * A larger session is never written: `login()` fails with `ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE`
   * (not transient; its tokens revoked), a rotation ends the session (cookies cleared, a
   * `refresh-failure` event whose error has the code `ERR_TOKENKEEP_SESSION_TOO_LARGE`). Raise it only when every proxy in
   * front of the site accepts a `Cookie` header that long; otherwise use `storage: "session"`.
   * @default 7_600 (two chunks: fits the 8 KB header line of nginx's and Apache's defaults)
   */
  readonly maxBytes?: number | undefined;
  /**
   * The sealing secret(s), newest first, each at least 32 characters; read at runtime.
   * @default process.env.TOKENKEEP_SECRET split at commas
   */
  readonly secrets?: string | readonly string[] | undefined;
}

/** The API client (`locals.api`, and `api` from `@tokenkeep/astro/server`). */
export interface ApiConfig {
  /** Relative URLs (`/orders`) are resolved against it. Read at runtime, e.g. from `process.env`. */
  readonly baseURL?: string | undefined;
  /**
   * The origins that receive the session's `Authorization` header; every other host gets none.
   * @default the origin of `baseURL` (none without it)
   */
  readonly origins?: readonly string[] | undefined;
  /**
   * Per attempt, covering the answer and its body. `false` (as ky's `timeout: false`): no timer of
   * the client's own; a call then ends only at its `signal`, a per-call `timeoutMs` or the runtime's
   * own limits (Node's `fetch` gives up on an answer's headers after 300 s).
   * @default 10_000
   */
  readonly timeoutMs?: number | false | undefined;
  /** Retries of idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS) only. @default 2 */
  readonly retry?: number | undefined;
  /**
   * After a 401 made the client renew a session (rotate its refresh token) and replay, a 401 to the
   * new tokens renews nothing for this long after they were issued (when that rotation was answered,
   * also in a request that picked them up later as its successor): the call fails with `ApiHttpError`
   * 401 and `stats().invalidationsRefused` counts it. When the renewed token is rejected too, a new
   * one will not help (a wrong audience, a stale key set), and without this an API answering every
   * call with 401 would cost one refresh per request. Per session (the mark travels with it, across
   * requests and instances), as core's manager option of the same name is per identity. 0 turns it off.
   * @default 30_000
   */
  readonly unauthorizedCooldownMs?: number | undefined;
  /** Headers of every call. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Request, response and error interceptors; each receives one state object. */
  readonly interceptors?: ApiInterceptors | undefined;
  /**
   * The `fetch` the client sends with. It must drop `Authorization` on a redirect that leaves the
   * origin, as the Fetch standard's does (Node, Deno, browsers): the client does not see redirects.
   * @default globalThis.fetch
   */
  readonly fetch?: typeof globalThis.fetch | undefined;
}

/** The configuration module's default export. */
export interface TokenkeepConfig {
  /** The API client's settings. */
  readonly api?: ApiConfig | undefined;
  /** The API that issues the tokens. */
  readonly upstream: UpstreamConfig;
  /** The session cookie. */
  readonly cookie?: CookieConfig | undefined;
  /**
   * Where sessions live: sealed in the session cookie, or sealed in Astro's server-side session
   * (`session.driver` in the Astro config; the browser then holds only Astro's session id).
   * @default "cookie"
   */
  readonly storage?: "cookie" | "session" | undefined;
  /**
   * An access token expiring within this many ms (at most half its lifetime) is rotated before the
   * page renders.
   * @default 60_000
   */
  readonly refreshWindowMs?: number | undefined;
  /** A request waits at most this long for a rotation, and for a sign-out's revocation upstream. @default 10_000 */
  readonly rotationTimeoutMs?: number | undefined;
  /**
   * How long a request still carrying a just-rotated refresh token (a tab that missed the answer) is
   * served the new session. Later, such a request is served signed out, without presenting the old
   * token upstream and without touching its cookies (the browser already holds the newer pair).
   * @default 30_000
   */
  readonly successorTtlMs?: number | undefined;
  /**
   * How long after a rotation got no definite answer (a 5xx, a reset, a timeout) before the upstream
   * is asked whether the refresh token is still unredeemed (needs `oauth.introspection`,
   * `endpoints.introspect` or `isRefreshTokenActive`). Meanwhile the session is served with its access token while
   * it is valid. Longer than the upstream's slowest refresh: a refresh still running upstream when
   * the check is made would turn the next presentation into a reuse.
   * @default 10_000
   */
  readonly rotationSettleMs?: number | undefined;
  /**
   * The store rotations are coordinated through: `@tokenkeep/redis` for several instances. It must
   * offer leases (`acquire`); a store without them is refused with the other options.
   * @default memory (this process)
   */
  readonly store?: Store | undefined;
  /** Paths that need a session. */
  readonly protect?: ProtectOptions | undefined;
  /** Receives one state object per event; never a token. Must not throw (errors are ignored). */
  readonly onEvent?: ((event: TokenkeepEvent) => void) | undefined;
  /** The clock, epoch ms. @default Date.now */
  readonly now?: (() => number) | undefined;
}

const fn = <T>() => z.custom<T>((value) => typeof value === "function", { message: "expected a function" });
const positiveMs = z.number().positive().max(2_147_483_647);
const path = z.string().startsWith("/", { message: "expected a path starting with /" });
/** A `protect` pattern: an exact path, or a prefix ending in `/*`. */
const protectPattern = path.refine(
  (pattern) => !pattern.slice(0, pattern.endsWith("/*") ? -2 : undefined).includes("*"),
  {
    message:
      "expected an exact path (`/account`) or a prefix ending in `/*` (`/account/*`): `*` elsewhere matches nothing",
  },
);

/**
 * An http(s) URL without a user part: `fetch` refuses `https://user:pass@host` with an error that
 * quotes the URL whole, so it would print the password; credentials belong in `headers`.
 */
const httpUrl = z.url({ protocol: /^https?$/ }).refine((value) => {
  const url = URL.parse(value);
  return url === null || (url.username === "" && url.password === "");
}, "must not carry a user part (user:password@); pass credentials in headers");

/**
 * Headers every request carries: refused here when no request could carry them, since `Headers`
 * would refuse them on the first request with a `TypeError` quoting the value whole (a credential,
 * often). A value may not hold a line break or NUL inside (leading and trailing ones are trimmed);
 * a name is an HTTP token. Values are never quoted.
 */
const headersSchema = z.record(z.string(), z.string()).superRefine((headers, context) => {
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~\dA-Za-z-]+$/.test(name)) {
      context.addIssue({ code: "custom", path: [name], message: "expected a header name (an HTTP token)" });
    } else if (/[\0\r\n]/.test(value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, ""))) {
      context.addIssue({
        code: "custom",
        path: [name],
        message: "the value holds a line break or NUL, which no HTTP header can carry (not shown)",
      });
    }
  }
});

const endpointsSchema = z
  .strictObject({
    baseURL: httpUrl,
    login: z.string().min(1),
    refresh: z.string().min(1),
    logout: z.string().min(1).optional(),
    contentType: z
      .enum(["application/json", "application/x-www-form-urlencoded"])
      .default(DEFAULT_CONTENT_TYPE),
    headers: headersSchema.default({}),
    loginData: z.record(z.string(), z.json()).default({}),
    refreshData: z.record(z.string(), z.json()).default({}),
    refreshRequestField: z.string().min(1).default(DEFAULT_REFRESH_REQUEST_FIELD),
    fields: z
      .strictObject({
        accessToken: z.string().min(1).optional(),
        refreshToken: z.string().min(1).optional(),
        expiresAt: z.string().min(1).optional(),
        expiresIn: z.string().min(1).optional(),
        tokenType: z.string().min(1).optional(),
        sessionPayload: z.string().min(1).optional(),
      })
      .default({}),
    parseLogin: fn<(body: unknown) => ParsedTokens>().optional(),
    parseRefresh: fn<(body: unknown) => ParsedTokens>().optional(),
    introspect: z.string().min(1).optional(),
    parseIntrospect: fn<(body: unknown) => boolean>().optional(),
    timeoutMs: positiveMs.default(DEFAULT_UPSTREAM_TIMEOUT_MS),
    fetch: fn<typeof globalThis.fetch>().optional(),
  })
  .superRefine((endpoints, context) => {
    if (endpoints.parseIntrospect !== undefined && endpoints.introspect === undefined) {
      context.addIssue({
        code: "custom",
        path: ["parseIntrospect"],
        message: "needs introspect (the path it reads)",
      });
    }
  });

// One object with the three modes' keys, so a mistake inside a mode is reported at its path
// (`upstream.endpoints.feilds: unknown option - did you mean fields?`), not as "no shape matched".
const upstreamSchema = z
  .strictObject({
    // grants validates these itself, with its own messages, when the middleware builds the creators.
    oauth: z.record(z.string(), z.unknown()).optional(),
    endpoints: endpointsSchema.optional(),
    signIn: fn<Upstream["signIn"]>().optional(),
    refresh: fn<Upstream["refresh"]>().optional(),
    isRefreshTokenActive: fn<NonNullable<Upstream["isRefreshTokenActive"]>>().optional(),
    signOut: fn<NonNullable<Upstream["signOut"]>>().optional(),
  })
  .superRefine((upstream, context) => {
    const modes = [
      upstream.oauth !== undefined,
      upstream.endpoints !== undefined,
      upstream.signIn !== undefined ||
        upstream.refresh !== undefined ||
        upstream.signOut !== undefined ||
        upstream.isRefreshTokenActive !== undefined,
    ].filter(Boolean).length;
    if (modes !== 1) {
      context.addIssue({
        code: "custom",
        message: "give exactly one of oauth, endpoints, or the signIn and refresh functions",
      });
    } else if (
      upstream.oauth === undefined &&
      upstream.endpoints === undefined &&
      (upstream.signIn === undefined || upstream.refresh === undefined)
    ) {
      context.addIssue({ code: "custom", message: "an upstream of functions needs both signIn and refresh" });
    }
    // `oauth` is passed to @tokenkeep/grants, which checks it; `introspection` is this package's own.
    const introspection = upstream.oauth?.introspection;
    if (
      introspection !== undefined &&
      typeof introspection !== "boolean" &&
      typeof introspection !== "string" &&
      !(introspection instanceof URL)
    ) {
      context.addIssue({
        code: "custom",
        path: ["oauth", "introspection"],
        message: "expected true, false or the introspection endpoint's URL",
      });
    } else if (introspection === true && upstream.oauth?.issuer === undefined) {
      context.addIssue({
        code: "custom",
        path: ["oauth", "introspection"],
        message:
          "true needs issuer (its metadata names the introspection endpoint); or give the endpoint's URL",
      });
    }
  });

// Rotation takes a lease per refresh token (`acquire`), so a store without leases is refused here
// rather than on the first rotation, which would fail every request in the refresh window.
const storeSchema = z.custom<Store>(
  (value) =>
    typeof value === "object" &&
    value !== null &&
    ["get", "set", "delete", "acquire"].every(
      (name) => typeof (value as Record<string, unknown>)[name] === "function",
    ),
  {
    message:
      "expected a store with leases (get, set, delete and acquire), such as createMemoryStore() from " +
      "@tokenkeep/core/memory-store or createRedisStore() from @tokenkeep/redis",
  },
);

const originSchema = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return /^https?:$/.test(url.protocol) && `${url.origin}/` === url.href;
    } catch {
      return false;
    }
  },
  { message: "expected an origin such as https://api.example (no path)" },
);

const apiSchema = z
  .strictObject({
    baseURL: httpUrl.optional(),
    origins: z.array(originSchema).optional(),
    timeoutMs: z.union([positiveMs, z.literal(false)]).default(DEFAULT_API_TIMEOUT_MS),
    retry: z.number().int().nonnegative().max(10).default(DEFAULT_API_RETRY_LIMIT),
    unauthorizedCooldownMs: z
      .number()
      .nonnegative()
      .max(2_147_483_647)
      .default(DEFAULT_API_UNAUTHORIZED_COOLDOWN_MS),
    headers: headersSchema.default({}),
    interceptors: z
      .strictObject({
        request: z.array(fn<NonNullable<ApiInterceptors["request"]>[number]>()).optional(),
        response: z.array(fn<NonNullable<ApiInterceptors["response"]>[number]>()).optional(),
        error: z.array(fn<NonNullable<ApiInterceptors["error"]>[number]>()).optional(),
      })
      .default({}),
    fetch: fn<typeof globalThis.fetch>().optional(),
  })
  .transform((api) => ({
    ...api,
    origins: (api.origins ?? (api.baseURL === undefined ? [] : [api.baseURL])).map(
      (origin) => new URL(origin).origin,
    ),
  }));

/** The schema of {@link TokenkeepConfig}. */
export const configSchema = z.strictObject({
  api: apiSchema.prefault({}),
  upstream: upstreamSchema,
  cookie: z
    .strictObject({
      name: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/, { message: "expected letters, digits, _ or -" })
        .default(DEFAULT_COOKIE_NAME),
      domain: z.string().min(1).optional(),
      maxAgeS: z.number().int().positive().default(DEFAULT_COOKIE_MAX_AGE_S),
      maxBytes: z.number().int().positive().default(DEFAULT_COOKIE_MAX_BYTES),
      secrets: z.union([z.string(), z.array(z.string())]).optional(),
    })
    .default({
      name: DEFAULT_COOKIE_NAME,
      maxAgeS: DEFAULT_COOKIE_MAX_AGE_S,
      maxBytes: DEFAULT_COOKIE_MAX_BYTES,
    }),
  storage: z.enum(["cookie", "session"]).default("cookie"),
  refreshWindowMs: z.number().nonnegative().max(2_147_483_647).default(DEFAULT_REFRESH_WINDOW_MS),
  rotationTimeoutMs: positiveMs.default(DEFAULT_ROTATION_TIMEOUT_MS),
  successorTtlMs: positiveMs.default(DEFAULT_SUCCESSOR_TTL_MS),
  rotationSettleMs: positiveMs.default(DEFAULT_ROTATION_SETTLE_MS),
  store: storeSchema.optional(),
  protect: z
    .strictObject({
      paths: z.array(protectPattern),
      exclude: z.array(protectPattern).default([]),
      signInPath: path.default(DEFAULT_SIGN_IN_PATH),
      returnToParam: z.string().min(1).default(DEFAULT_RETURN_TO_PARAM),
    })
    .superRefine(({ paths, exclude, signInPath }, context) => {
      // The sign-in page itself protected: a signed-out visitor would be sent to it, and from it, forever.
      const index = isProtected(signInPath, exclude)
        ? -1
        : paths.findIndex((pattern) => isProtected(signInPath, [pattern]));
      if (index !== -1) {
        context.addIssue({
          code: "custom",
          path: ["paths", index],
          message: `covers signInPath (${signInPath}): signed-out visitors could never reach the sign-in page (exclude it to keep this pattern)`,
        });
      }
      // An exclusion no protected path falls under leaves everything as it was: refused, since the
      // page it names (misspelt, or under a pattern removed since) is not what stays public.
      // One that covers a whole protected pattern leaves that pattern protecting nothing.
      exclude.forEach((pattern, at) => {
        const covered = paths.findIndex((protectedPattern) => patternCovers(pattern, protectedPattern));
        const message =
          covered !== -1
            ? `${pattern} excludes all of protect.paths.${covered} (${paths[covered]}): remove that pattern instead`
            : paths.some((protectedPattern) => patternsOverlap(pattern, protectedPattern))
              ? undefined
              : `${pattern} excludes nothing: no path of protect.paths falls under it`;
        if (message !== undefined) context.addIssue({ code: "custom", path: ["exclude", at], message });
      });
    })
    .optional(),
  onEvent: fn<(event: TokenkeepEvent) => void>().optional(),
  now: fn<() => number>().optional(),
});

/** The configuration after validation, defaults applied. */
export type ResolvedConfig = z.output<typeof configSchema>;
/** The API client's options after validation (`origins` always set). */
export type ResolvedApiConfig = ResolvedConfig["api"];
/** The custom-endpoint options after validation. */
export type ResolvedEndpointsOptions = z.output<typeof endpointsSchema>;

/** The default secret list: `TOKENKEEP_SECRET`, comma-separated, read when called (at runtime). */
export function secretsFromEnvironment(): string[] {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return splitSecrets(env?.[DEFAULT_SECRET_ENV]);
}

/** A secret list from the option or the environment variable's text. */
export function splitSecrets(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const list = typeof value === "string" ? value.split(",") : [...value];
  return list.map((secret) => secret.trim()).filter((secret) => secret !== "");
}

/** Validates a configuration (see {@link TokenkeepConfig}). */
export function parseConfig(config: TokenkeepConfig): ResolvedConfig {
  return parseOptions(configSchema, config, "defineTokenkeepConfig");
}
