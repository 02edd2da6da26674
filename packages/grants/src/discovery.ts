import { InvalidResponseError, isTransientStatus, type JsonValue } from "@tokenkeep/core";
import * as rules from "@tokenkeep/core/options";
import {
  DEFAULT_ALLOW_INSECURE_REQUESTS,
  DEFAULT_DISCOVERY_CACHE_MS,
  DEFAULT_TIMEOUT_MS,
} from "./defaults.js";
import type { KyLike } from "./grant-options.js";
import { abortedError, exchange } from "./internal/exchange.js";
import { isStrings } from "./internal/params.js";
import {
  CREDENTIALS_IN_URL_MESSAGE,
  hasCredentials,
  insecureUrlProblem,
  isSecureEnough,
} from "./internal/transport-security.js";

/**
 * The authorization server metadata tokenkeep uses (RFC 8414 section 2); every other field the
 * server sent is kept as well.
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2
 */
export interface AuthorizationServerMetadata {
  /** The issuer identifier; checked to equal the one asked for. */
  readonly issuer: string;
  /** Where grant creators post token requests. */
  readonly token_endpoint?: string | undefined;
  /** Where `revokeToken` posts (RFC 7009). */
  readonly revocation_endpoint?: string | undefined;
  /** Where `createIntrospection` posts (RFC 7662), when the server has one. */
  readonly introspection_endpoint?: string | undefined;
  /** The `grant_type` values the server accepts. */
  readonly grant_types_supported?: string[] | undefined;
  /** The client authentication methods the token endpoint accepts. */
  readonly token_endpoint_auth_methods_supported?: string[] | undefined;
  /**
   * Endpoints to use instead when the client authenticates with mutual TLS (RFC 8705 section 5):
   * `tls_client_auth` and `self_signed_tls_client_auth` clients post there. Not validated here: an
   * alias that is not a string is ignored where it is used.
   */
  readonly mtls_endpoint_aliases?:
    | {
        readonly token_endpoint?: string | undefined;
        readonly revocation_endpoint?: string | undefined;
        readonly introspection_endpoint?: string | undefined;
      }
    | undefined;
  readonly [field: string]: JsonValue | undefined;
}

/** Options of {@link discover}. */
export interface DiscoverOptions {
  /**
   * The `fetch` to use.
   * @default globalThis.fetch
   */
  fetch?: typeof globalThis.fetch | undefined;
  /**
   * A ky instance to use instead of `fetch` (its `headers` and hooks apply, its `prefix` and
   * `baseUrl` do not).
   */
  ky?: KyLike | undefined;
  /**
   * How long the metadata request may take, in milliseconds.
   * @default 30_000
   */
  timeoutMs?: number | undefined;
  /** Stops waiting for the metadata (the shared request itself goes on for other callers). */
  signal?: AbortSignal | undefined;
  /**
   * Lets the issuer be plain `http:` to a host that is not loopback.
   * @default false
   */
  allowInsecureRequests?: boolean | undefined;
  /**
   * The clock, in epoch milliseconds, that expires cached metadata.
   * @default Date.now
   */
  now?: (() => number) | undefined;
}

/**
 * The issuer identifier an `issuer` option names, as the string it is compared as (RFC 8414 section
 * 3.3): a string as written; a `URL` as its `href` without the `/` that `URL` gives an empty path, so
 * `new URL("https://auth.example")` is `https://auth.example`, as RFC 8414 spells an issuer with no
 * path (an issuer that ends in a lone `/` is given as a string).
 */
export const issuerIdentifier = (issuer: unknown): string =>
  issuer instanceof URL ? issuer.href.replace(/^(\w+:\/\/[^/]+)\/$/, "$1") : String(issuer);

/** Metadata being read or read, and until when it may be reused. */
interface CacheEntry {
  readonly metadata: Promise<AuthorizationServerMetadata>;
  /** Epoch ms; `Infinity` while the request is in flight. */
  expiresAt: number;
}

/**
 * The cache, per transport (the `fetch` or ky instance that read it: a caller's proxy agent, hooks
 * or test double never serves another's), then per issuer exactly as given.
 */
const caches = new WeakMap<object, Map<string, CacheEntry>>();

/**
 * The first field of `body` that is not what {@link AuthorizationServerMetadata} says: `issuer` a
 * string, the endpoints strings when present, the `*_supported` fields lists of strings when present.
 * Endpoints are checked as URLs where they are used (`fetch` rejects a bad one as a network error).
 * Plain checks rather than core's rules: this runs in every bundle that discovers.
 */
function invalidMetadataField(body: Readonly<Record<string, unknown>>): string | undefined {
  return [
    "issuer",
    "token_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "grant_types_supported",
    "token_endpoint_auth_methods_supported",
  ].find((field) => {
    const value = body[field];
    if (value === undefined) return field === "issuer";
    return field.endsWith("_supported")
      ? !(Array.isArray(value) && isStrings(value))
      : typeof value !== "string";
  });
}

interface ReadMetadata {
  readonly metadata: AuthorizationServerMetadata;
  /**
   * How long it may be reused: the answer's `Cache-Control: max-age`, else 1 hour. Only `max-age` is
   * read: many servers send `no-store` on every answer, and reading the metadata before every token
   * request would double the requests for nothing.
   */
  readonly lifetimeMs: number;
}

/**
 * The metadata of one answer; `undefined` for a 404 (the next location is tried). An answer that a
 * redirect brought from another origin (an https issuer sent to http) never gets here: `exchange`
 * refuses it, since metadata read there could name any token endpoint.
 */
async function readMetadata(response: Response, issuer: string): Promise<ReadMetadata | undefined> {
  const { status } = response;
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    if (status === 404) return undefined;
    throw new InvalidResponseError(`answered ${status}`, {
      status,
      transient: isTransientStatus(status),
    });
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    throw new InvalidResponseError(`answered ${status} with a body that is not JSON`, {
      status,
      transient: true,
      cause: error,
    });
  }
  // A field's name is given, never its value, except the issuer's, which is public. RFC 8414 section
  // 3.3: the metadata must be about the issuer that was asked for, character for character (a
  // trailing slash is another issuer).
  const field = rules.isObject(body) ? invalidMetadataField(body) : "";
  const received = (body as AuthorizationServerMetadata | null)?.issuer;
  const problem =
    field === ""
      ? "not a JSON object"
      : field
        ? `field "${field}" is invalid`
        : received !== issuer &&
          `field "issuer" is ${JSON.stringify(received)}, expected ${JSON.stringify(issuer)}`;
  if (problem)
    throw new InvalidResponseError(`invalid authorization server metadata: ${problem}`, { status });
  const maxAge = /\bmax-age="?(\d+)/i.exec(response.headers.get("cache-control") ?? "")?.[1];
  return {
    metadata: body as AuthorizationServerMetadata,
    lifetimeMs: maxAge === undefined ? DEFAULT_DISCOVERY_CACHE_MS : Number(maxAge) * 1000,
  };
}

/** What {@link lookUpMetadata} needs, defaults applied: a creator's options, or `discover`'s own. */
interface LookUpOptions {
  readonly fetch?: typeof globalThis.fetch | undefined;
  readonly ky?: KyLike | undefined;
  readonly timeoutMs: number;
  readonly allowInsecureRequests: boolean;
  readonly now: () => number;
}

async function fetchMetadata(issuer: string, options: LookUpOptions): Promise<ReadMetadata> {
  // The two well-known locations, OpenID Connect's first (RFC 8414 section 5 keeps it compatible).
  const { origin, pathname } = new URL(issuer);
  const path = pathname.replace(/\/$/, "");
  for (const url of [
    `${origin}${path}/.well-known/openid-configuration`,
    `${origin}/.well-known/oauth-authorization-server${path}`,
  ]) {
    const request = { method: "GET", headers: { accept: "application/json" }, redirect: "follow" } as const;
    const metadata = await exchange(url, "discovery request", request, options, undefined, (response) =>
      readMetadata(response, issuer),
    );
    if (metadata) return metadata;
  }
  throw new InvalidResponseError(`no authorization server metadata found for ${issuer}`, {
    status: 404,
  });
}

/**
 * The metadata of `issuer` from the cache, or read once for every caller; `signal` only stops this
 * caller's wait. What creators call: their options were checked when they were made.
 */
export function lookUpMetadata(
  issuer: string,
  options: LookUpOptions,
  signal: AbortSignal | undefined,
): Promise<AuthorizationServerMetadata> {
  // Aborted already: nothing is sent (and no shared lookup is left without a listener).
  if (signal?.aborted) return Promise.reject(abortedError("discovery", signal));
  const transport: object = options.ky ?? options.fetch ?? globalThis.fetch;
  const { now } = options;
  const cache = caches.get(transport) ?? new Map<string, CacheEntry>();
  caches.set(transport, cache);
  let entry = cache.get(issuer);
  if (entry === undefined || entry.expiresAt <= now()) {
    const created: CacheEntry = {
      metadata: fetchMetadata(issuer, options).then(
        (read) => {
          created.expiresAt = now() + read.lifetimeMs;
          return read.metadata;
        },
        (error: unknown) => {
          // A failure is not cached: the next caller asks again.
          if (cache.get(issuer) === created) cache.delete(issuer);
          throw error;
        },
      ),
      expiresAt: Infinity,
    };
    // Every caller may stop waiting (its signal): the shared lookup's failure must not go unhandled.
    created.metadata.catch(() => {});
    cache.set(issuer, created);
    entry = created;
  }
  const { metadata } = entry;
  if (!signal) return metadata;
  return new Promise<AuthorizationServerMetadata>((resolve, reject) => {
    const onAbort = () => reject(abortedError("discovery", signal));
    signal.addEventListener("abort", onAbort, { once: true });
    metadata.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

// Only the keys: the values are checked where they are used. Built on first use, so a bundle that
// never calls discover() drops it.
const optionKeysRule = () => {
  const anything = rules.check(() => true, "");
  return rules.object({
    fetch: anything,
    ky: anything,
    timeoutMs: rules.optional(rules.duration()),
    signal: anything,
    allowInsecureRequests: anything,
    now: rules.optional(rules.func()),
  });
};

/**
 * Reads an authorization server's metadata: OpenID Connect discovery
 * (`{issuer}/.well-known/openid-configuration`), then RFC 8414
 * (`/.well-known/oauth-authorization-server{path}`). The answer is validated: its `issuer` must be
 * the one asked for, exactly (RFC 8414 section 3.3; `https://auth.example/` and
 * `https://auth.example` are different issuers; a `URL` names the issuer of its `href` without the
 * `/` that `URL` adds to an empty path: `new URL("https://auth.example")` is `https://auth.example`).
 * It is cached per issuer and per transport (`fetch` or ky instance) for the answer's
 * `Cache-Control: max-age`, else 1 hour; concurrent callers share one request, and a failed lookup
 * is not cached. An `http:` issuer is refused (`TypeError`, code `ERR_TOKENKEEP_INVALID_OPTIONS`)
 * unless its host is loopback or `allowInsecureRequests` is set, and so is one with a user name or
 * password in it. An answer a redirect brought from another origin is refused.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 */
export function discover(
  issuer: string | URL,
  options: DiscoverOptions = {},
): Promise<AuthorizationServerMetadata> {
  // Misspelt options are errors here as in every factory.
  const problems = rules.runRule(optionKeysRule(), options).problems;
  const allowInsecureRequests = options.allowInsecureRequests ?? DEFAULT_ALLOW_INSECURE_REQUESTS;
  if (!isSecureEnough(issuer, allowInsecureRequests)) problems.push(insecureUrlProblem("issuer"));
  if (hasCredentials(issuer)) problems.push(`issuer: ${CREDENTIALS_IN_URL_MESSAGE}`);
  if (problems.length > 0) return Promise.reject(rules.invalidOptions("discover", problems));
  const resolved = {
    ...options,
    allowInsecureRequests,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    now: options.now ?? (() => Date.now()),
  };
  return lookUpMetadata(issuerIdentifier(issuer), resolved, options.signal);
}
