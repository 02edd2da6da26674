import { AbortError, InvalidResponseError, type JsonValue } from "@tokenkeep/core";
import * as rules from "@tokenkeep/core/options";
import {
  DEFAULT_ALLOW_INSECURE_REQUESTS,
  DEFAULT_DISCOVERY_CACHE_MS,
  DEFAULT_TIMEOUT_MS,
} from "./defaults.js";
import type { KyLike } from "./grant-options.js";
import { exchange } from "./internal/exchange.js";
import { insecureUrlProblem, isSecureEnough } from "./internal/transport-security.js";

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
  /** The token introspection endpoint (RFC 7662), when the server has one. */
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
    | { readonly token_endpoint?: string | undefined; readonly revocation_endpoint?: string | undefined }
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
  /** A ky instance to use instead of `fetch`. */
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

// Endpoints are checked as URLs where they are used (`fetch` rejects a bad one as a network error).
// Built on first use, so a bundle that never discovers drops it.
const metadataRule = () =>
  rules.looseObject({
    issuer: rules.string(1),
    token_endpoint: rules.optional(rules.string()),
    revocation_endpoint: rules.optional(rules.string()),
    introspection_endpoint: rules.optional(rules.string()),
    grant_types_supported: rules.optional(rules.array(rules.string())),
    token_endpoint_auth_methods_supported: rules.optional(rules.array(rules.string())),
  });

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

// Only the keys: the values are checked where they are used.
const anything = rules.check(() => true, "");
const optionKeysRule = () =>
  rules.object({
    fetch: anything,
    ky: anything,
    timeoutMs: rules.optional(rules.duration()),
    signal: anything,
    allowInsecureRequests: anything,
    now: rules.optional(rules.func()),
  });

/**
 * `Cache-Control: max-age=N` in milliseconds, else `undefined`. Only `max-age` is read: many servers
 * send `no-store` on every answer, and reading the metadata before every token request would double
 * the requests for nothing.
 */
function cacheLifetimeMs(header: string | null): number | undefined {
  const maxAge = header === null ? undefined : /\bmax-age="?(\d+)/i.exec(header)?.[1];
  return maxAge === undefined ? undefined : Number(maxAge) * 1000;
}

function withoutTrailingSlash(value: string): string {
  return value.endsWith("/") ? value.slice(0, -1) : value;
}

/** The two well-known locations, OpenID Connect's first (RFC 8414 section 5 keeps it compatible). */
function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = withoutTrailingSlash(url.pathname);
  return [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

interface ReadMetadata {
  readonly metadata: AuthorizationServerMetadata;
  /** From `Cache-Control`, when the answer had one. */
  readonly lifetimeMs: number | undefined;
}

async function readMetadata(
  response: Response,
  issuer: string,
  allowInsecure: boolean,
): Promise<ReadMetadata | undefined> {
  const { status } = response;
  // An https issuer redirected to http: metadata read in clear could name any token endpoint, and the
  // client's credentials would follow it. Nothing from that answer is used.
  if (response.redirected && !isSecureEnough(response.url, allowInsecure)) {
    await response.body?.cancel().catch(() => {});
    throw new InvalidResponseError(
      "discovery was redirected to an http URL on a host that is not loopback; its metadata is not used",
      { status },
    );
  }
  if (status === 404) {
    await response.body?.cancel().catch(() => {});
    return undefined;
  }
  const transient = status >= 500 || status === 429 || status === 408;
  let body: unknown;
  try {
    body = status >= 200 && status < 300 ? await response.json() : undefined;
  } catch (error) {
    throw new InvalidResponseError(`answered ${status} with a body that is not JSON`, {
      status,
      transient: true,
      cause: error,
    });
  }
  if (body === undefined) {
    await response.body?.cancel().catch(() => {});
    throw new InvalidResponseError(`answered ${status}`, { status, transient });
  }
  if (!rules.isObject(body)) {
    throw new InvalidResponseError("invalid authorization server metadata: not a JSON object", { status });
  }
  const result = rules.runRule(metadataRule(), body);
  const [problem] = result.problems;
  if (problem !== undefined) {
    // A problem reads `path: what was expected`; only the path is named, never a value.
    const field = problem.slice(0, problem.indexOf(": "));
    throw new InvalidResponseError(`invalid authorization server metadata: field "${field}" is invalid`, {
      status,
    });
  }
  // RFC 8414 section 3.3: the metadata must be about the issuer that was asked for, character for
  // character (a trailing slash is a different issuer).
  if (result.value.issuer !== issuer) {
    throw new InvalidResponseError('invalid authorization server metadata: field "issuer" does not match', {
      status,
    });
  }
  return {
    metadata: result.value as AuthorizationServerMetadata,
    lifetimeMs: cacheLifetimeMs(response.headers.get("cache-control")),
  };
}

async function fetchMetadata(issuer: string, options: DiscoverOptions): Promise<ReadMetadata> {
  const transport = {
    fetch: options.fetch,
    ky: options.ky,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
  for (const url of metadataUrls(issuer)) {
    const request = {
      url,
      method: "GET",
      headers: { accept: "application/json" },
      what: "discovery request",
    } as const;
    const metadata = await exchange(request, transport, undefined, (response) =>
      readMetadata(response, issuer, options.allowInsecureRequests ?? DEFAULT_ALLOW_INSECURE_REQUESTS),
    );
    if (metadata) return metadata;
  }
  throw new InvalidResponseError(`no authorization server metadata found for ${issuer}`, {
    status: 404,
  });
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted)
    return Promise.reject(new AbortError("discovery was aborted", { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError("discovery was aborted", { cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Reads an authorization server's metadata: OpenID Connect discovery
 * (`{issuer}/.well-known/openid-configuration`), then RFC 8414
 * (`/.well-known/oauth-authorization-server{path}`). The answer is validated: its `issuer` must be
 * the one asked for, exactly (RFC 8414 section 3.3; `https://auth.example/` and
 * `https://auth.example` are different issuers). It is cached per issuer and per transport (`fetch`
 * or ky instance) for the answer's `Cache-Control: max-age`, else 1 hour; concurrent callers share
 * one request, and a failed lookup is not cached. An `http:` issuer is refused (`TypeError`, code
 * `ERR_TOKENKEEP_INVALID_OPTIONS`) unless its host is loopback or `allowInsecureRequests` is set.
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
  if (problems.length > 0) return Promise.reject(rules.invalidOptions("discover", problems));
  const allowInsecure = options.allowInsecureRequests ?? DEFAULT_ALLOW_INSECURE_REQUESTS;
  if (!isSecureEnough(issuer, allowInsecure)) {
    return Promise.reject(rules.invalidOptions("discover", [insecureUrlProblem("issuer")]));
  }
  // Aborted already: nothing is sent (and no shared lookup is left without a listener).
  if (options.signal?.aborted) {
    return Promise.reject(new AbortError("discovery was aborted", { cause: options.signal.reason }));
  }
  const key = String(issuer);
  const transport: object = options.ky ?? options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  let cache = caches.get(transport);
  if (!cache) {
    cache = new Map();
    caches.set(transport, cache);
  }
  let entry = cache.get(key);
  if (entry === undefined || entry.expiresAt <= now()) {
    const pending = fetchMetadata(key, options);
    const created: CacheEntry = { metadata: pending.then((read) => read.metadata), expiresAt: Infinity };
    // Every caller may stop waiting (its signal): the shared lookup's failure must not go unhandled.
    created.metadata.catch(() => {});
    const owner = cache;
    owner.set(key, created);
    pending.then(
      (read) => {
        created.expiresAt = now() + (read.lifetimeMs ?? DEFAULT_DISCOVERY_CACHE_MS);
        if (created.expiresAt <= now() && owner.get(key) === created) owner.delete(key);
      },
      () => {
        if (owner.get(key) === created) owner.delete(key);
      },
    );
    entry = created;
  }
  return untilAborted(entry.metadata, options.signal);
}
