/**
 * The custom-endpoint upstream: an API with its own `login`, `refresh` and `logout` paths (the shape
 * astro-tokenkit configures), JSON or form bodies, extra fields and headers, and answers read through
 * a field mapping or parser functions.
 *
 * Failures are typed so the middleware can tell them apart: a 400, 401 or 403 from `refresh` means the
 * refresh token is dead (an `OAuthError` `invalid_grant`, permanent); a 5xx, 408, 429, a non-JSON answer
 * or a network failure is transient (the session survives while its access token is valid). With
 * `introspect`, the upstream can also say whether a refresh token is still unredeemed, which turns a
 * refresh that got no definite answer into a wait instead of the end of the session.
 */
import {
  InvalidResponseError,
  isTokenkeepError,
  isTransientStatus,
  type JsonValue,
  NetworkError,
  OAuthError,
  TimeoutError,
  type TokenSet,
} from "@tokenkeep/core";
import type { ParsedTokens, ResolvedEndpointsOptions, Upstream } from "../config/schema.js";
import { armLimit } from "../internal/time-limit.js";
import { mapFields, toTokenSet } from "./field-mapping.js";

/** Lifetime of an access token whose answer states none: one hour, as core assumes. */
const DEFAULT_LIFETIME_MS = 3_600_000;

function encodeBody(options: ResolvedEndpointsOptions, fields: Record<string, JsonValue>): string {
  if (options.contentType === "application/json") return JSON.stringify(fields);
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue;
    form.set(name, typeof value === "string" ? value : JSON.stringify(value));
  }
  return form.toString();
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `path` under `baseURL` (`https://api.test/v1` + `/auth/login`); an absolute URL stays as it is. */
export function joinUrl(baseURL: string, path: string): string {
  if (/^https?:\/\//i.test(path)) return path;
  return `${baseURL.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

/** Builds the {@link Upstream} of a custom-endpoint configuration. */
export function endpointsUpstream(options: ResolvedEndpointsOptions): Upstream {
  /**
   * Posts `fields` to `path` and hands the answer to `read`, all within `timeoutMs`: the limit bounds
   * reading the body too (a read it ends rejects with the runtime's `TimeoutError`), and its timer is
   * cleared once `read` has settled (see `armLimit`).
   */
  const send = async <T>(
    path: string,
    fields: Record<string, JsonValue>,
    signal: AbortSignal | undefined,
    read: (response: Response) => Promise<T>,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> => {
    const target = joinUrl(options.baseURL, path);
    const limit = new AbortController();
    const timer = armLimit(limit, options.timeoutMs);
    const combined = signal === undefined ? limit.signal : AbortSignal.any([signal, limit.signal]);
    try {
      let response: Response;
      try {
        response = await (options.fetch ?? globalThis.fetch)(target, {
          method: "POST",
          headers: {
            accept: "application/json",
            "content-type": options.contentType,
            ...options.headers,
            ...extraHeaders,
          },
          body: encodeBody(options, fields),
          signal: combined,
          redirect: "error",
        });
      } catch (error) {
        if (limit.signal.aborted && !signal?.aborted) {
          throw new TimeoutError(`the upstream took longer than ${options.timeoutMs} ms`, {
            timeoutMs: options.timeoutMs,
          });
        }
        if (signal?.aborted) throw signal.reason;
        throw new NetworkError("the upstream could not be reached", { cause: error });
      }
      return await read(response);
    } finally {
      clearTimeout(timer);
    }
  };

  const readTokens = async (
    response: Response,
    sentAt: number,
    parse: ((body: unknown) => ParsedTokens) | undefined,
    what: string,
  ): Promise<TokenSet> => {
    const body = await readJson(response);
    if (!response.ok) {
      const status = response.status;
      if (status === 400 || status === 401 || status === 403) {
        const code = (body as { error?: unknown } | undefined)?.error;
        const named = typeof code === "string" && code !== "" ? code : undefined;
        // A refresh refused this way is a dead refresh token whatever the API calls it (NestJS says
        // "Unauthorized"): `invalid_grant`, so the session ends instead of presenting it again.
        throw new OAuthError({
          error: what === "refresh" ? "invalid_grant" : (named ?? "invalid_grant"),
          errorDescription: what === "refresh" ? named : undefined,
          status,
          transient: false,
        });
      }
      throw new InvalidResponseError(`${what} answered ${status}`, {
        status,
        transient: isTransientStatus(status),
      });
    }
    if (body === undefined)
      throw new InvalidResponseError(`${what} answered a body that is not JSON`, {
        transient: true,
        status: response.status,
      });
    try {
      const parsed = parse === undefined ? mapFields(body, options.fields) : parse(body);
      return toTokenSet(parsed, { sentAt, defaultLifetimeMs: DEFAULT_LIFETIME_MS });
    } catch (error) {
      if (isTokenkeepError(error)) throw error;
      throw new InvalidResponseError(`the ${what} parser failed`, { cause: error });
    }
  };

  return {
    async signIn(credentials, { signal }) {
      const sentAt = Date.now();
      // The configured fields win: the injected route passes on every posted field, and a visitor must
      // not replace the server's fixed ones (a tenant, a client id, a scope).
      return send(options.login, { ...credentials, ...options.loginData }, signal, (response) =>
        readTokens(response, sentAt, options.parseLogin, "login"),
      );
    },
    async refresh({ refreshToken, previous, signal }) {
      const sentAt = Date.now();
      const set = await send(
        options.refresh,
        { ...options.refreshData, [options.refreshRequestField]: refreshToken },
        signal,
        (response) => readTokens(response, sentAt, options.parseRefresh, "refresh"),
      );
      // An API that does not rotate answers without a refresh token: the old one stays valid.
      return set.refreshToken === undefined ? { ...set, refreshToken: previous.refreshToken } : set;
    },
    ...(options.introspect === undefined
      ? {}
      : {
          async isRefreshTokenActive({ refreshToken, signal }) {
            const introspect = options.introspect as string;
            const { response, text } = await send(
              introspect,
              { [options.refreshRequestField]: refreshToken },
              signal,
              async (response) => {
                try {
                  return { response, text: await response.text() };
                } catch (cause) {
                  throw new NetworkError("introspect's answer broke off", { cause });
                }
              },
            );
            // Anything but a 2xx JSON answer with a boolean is "cannot tell". What may answer later is
            // transient (the rotation stays in doubt and is checked again): a 408, 429 or 5xx, an answer
            // that broke off, a body that is not JSON (a proxy's page), as grants' introspection has it.
            // What is how this endpoint is set up, which asking again will not change, is permanent (the
            // rotation is then handled as without a check): a 401 to our credentials, a 404, JSON
            // without a boolean `active`, a parser that throws.
            if (!response.ok) {
              const status = response.status;
              throw new InvalidResponseError(`introspect answered ${status}`, {
                status,
                transient: isTransientStatus(status),
              });
            }
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              throw new InvalidResponseError("introspect answered a body that is not JSON", {
                status: response.status,
                transient: true,
              });
            }
            let active: unknown;
            try {
              active =
                options.parseIntrospect === undefined
                  ? (body as { active?: unknown } | undefined)?.active
                  : options.parseIntrospect(body);
            } catch (error) {
              throw new InvalidResponseError("the introspect parser failed", {
                cause: error,
                transient: false,
              });
            }
            if (typeof active !== "boolean") {
              throw new InvalidResponseError('introspect answered without a boolean "active"', {
                transient: false,
              });
            }
            return active;
          },
        }),
    ...(options.logout === undefined
      ? {}
      : {
          async signOut({ accessToken, refreshToken, signal }) {
            const logout = options.logout as string;
            const response = await send(
              logout,
              refreshToken === undefined ? {} : { [options.refreshRequestField]: refreshToken },
              signal,
              async (response) => {
                await response.body?.cancel().catch(() => {});
                return response;
              },
              { authorization: `Bearer ${accessToken}` },
            );
            // The local session ends either way; the caller reports that the upstream did not.
            if (!response.ok) {
              throw new InvalidResponseError(`logout answered ${response.status}`, {
                status: response.status,
                transient: response.status >= 500 || response.status === 429,
              });
            }
          },
        }),
  };
}
