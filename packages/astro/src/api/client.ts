/**
 * The API client: `context.locals.api` and the `api` import of `@tokenkeep/astro/server`. Built on ky
 * and core's `createKyHooks`, so `Authorization` goes only to the configured API origins, and a 401
 * to one of our tokens renews the session once and replays the request once.
 *
 * The common call (a GET or HEAD without per-call `retry`, `body`, `json`, `signal` or
 * `searchParams`, when no interceptor is configured) goes out over `fetch` directly, with its
 * timeout (the call's `timeoutMs`, else the client's) and the same auth hook: ky's pipeline costs
 * more CPU per call than the whole rest of the request. A 2xx is read as usual and a 401 goes
 * through the same renewal and single replay; any other outcome of that first attempt (an error
 * status, a network error, a timeout) is handed to ky as its own first attempt, so ky decides from
 * there exactly as it would have (retry or not, its backoff, the retry budget spent by one, the
 * typed error).
 *
 * The session it authorizes with is the current request's (`ApiSession`, bound by the middleware):
 * the hooks are made per request, so a replay is matched to the token that request sent. Renewal
 * after a 401 goes through the middleware's rotation coordinator while the response can still carry
 * cookies; once it has started, a 401 that would need a rotation is a `SessionExpiredError` and
 * nothing is rotated.
 */
import { InvalidResponseError, isTokenkeepError } from "@tokenkeep/core";
import { createKyHooks, type KyHooks, readLimited } from "@tokenkeep/core/http";
import { invalidOptions } from "@tokenkeep/core/options";
import ky, { type BeforeErrorState, isHTTPError, isKyError, isTimeoutError, type Options } from "ky";
import type { ResolvedApiConfig } from "../config/schema.js";
import { API_ERROR_BODY_MAX_BYTES, DEFAULT_API_TIMEOUT_MS, IDEMPOTENT_METHODS } from "../defaults.js";
import { armLimit } from "../internal/time-limit.js";
import { type Session, sessionToTokenSet } from "../session.js";
import {
  ApiError,
  ApiHttpError,
  ApiSchemaError,
  describeTarget,
  isApiError,
  isSessionExpiredError,
  SessionExpiredError,
} from "./errors.js";
import { dottedPath, type StandardSchema } from "./standard-schema.js";

/** What the API client needs of the current request's session (the middleware provides it). */
export interface ApiSession {
  /** The session now (after any renewal), or `undefined` when signed out. */
  current(): Session | undefined;
  /**
   * Renews the session whose access token `rejected` was answered 401 (once per token per request);
   * `undefined` when the session ended. The same session (so no replay) when its tokens replaced a
   * rejected pair less than `unauthorizedCooldownMs` ago, even once the response has started (the
   * call then fails with the API's 401). A token this request already renewed gets the current
   * session (replayed, nothing rotated), even once the response has started. Otherwise throws
   * {@link SessionExpiredError} when the response has started.
   */
  renew(rejected: string): Promise<Session | undefined>;
  /**
   * The transport's own slot: this session's auth hooks, made on its first call (kept here rather
   * than in a `WeakMap` keyed by the session, whose entries cost the garbage collector on every
   * request). Leave it `undefined`.
   */
  authHooks?: KyHooks | undefined;
  /** The transport's own slot: the hooks of calls with a `timeoutMs` of their own, by that limit. Leave it `undefined`. */
  limitedHooks?: Map<number | false, KyHooks> | undefined;
}

/** What a request interceptor receives. */
export interface ApiRequestState {
  /** The request about to be sent; set headers on it, or return a replacement. */
  readonly request: Request;
  /** Whether the current request has a session (its token is added after the interceptors ran). */
  readonly signedIn: boolean;
}

/** What a response interceptor receives. */
export interface ApiResponseState {
  readonly request: Request;
  /** The answer as ky received it (a 401 is seen before its renewal and replay); return another `Response` to replace it. */
  readonly response: Response;
  /** 0 for the first attempt, then the retry's number. */
  readonly retryCount: number;
}

/** What an error interceptor receives. */
export interface ApiErrorState {
  readonly request: Request;
  /**
   * ky's error (HTTP status, timeout, network), or for a 401 that renewal could not cure our
   * `ApiHttpError`; return another `Error` to replace it.
   */
  readonly error: Error;
  readonly retryCount: number;
}

/** What an interceptor may return: a replacement, or nothing to keep the original. */
export type Interceptor<State, Result> = (state: State) => Result | undefined | Promise<Result | undefined>;

/** Request, response and error interceptors (config functions: they run in the built server). */
export interface ApiInterceptors {
  /** Before each request (after the client's headers, before `Authorization` is added). */
  readonly request?: ReadonlyArray<Interceptor<ApiRequestState, Request>> | undefined;
  /** After each answer ky receives (a 401 before its renewal and replay; the replay's answer is not seen). */
  readonly response?: ReadonlyArray<Interceptor<ApiResponseState, Response>> | undefined;
  /** Before an HTTP, timeout or network error is turned into the client's typed error. */
  readonly error?: ReadonlyArray<Interceptor<ApiErrorState, Error>> | undefined;
}

/** How the answer's body becomes `data`. */
export type ApiResponseType = "json" | "text" | "none";

/** Options of one call. */
export interface ApiRequestOptions<T = unknown> {
  /** @default "GET" for `request` */
  readonly method?: string | undefined;
  /** A JSON body (sets `content-type: application/json`). */
  readonly json?: unknown;
  /** Any other body (`FormData`, `URLSearchParams`, text). */
  readonly body?: BodyInit | undefined;
  readonly headers?: Readonly<Record<string, string>> | Headers | undefined;
  readonly searchParams?: Readonly<Record<string, string | number | boolean>> | URLSearchParams | undefined;
  /** Aborts the call (and its retries). */
  readonly signal?: AbortSignal | undefined;
  /** Per attempt; `false`: no timer for this call. @default the client's `timeoutMs` (10_000) */
  readonly timeoutMs?: number | false | undefined;
  /** Retries of an idempotent request; POST and PATCH are never retried. @default the client's `retry` (2) */
  readonly retry?: number | undefined;
  /** @default "json" (an empty body gives `undefined`) */
  readonly responseType?: ApiResponseType | undefined;
  /** Validates `data` (zod or any Standard Schema); a mismatch throws `ApiSchemaError` naming the path. */
  readonly schema?: StandardSchema<T> | undefined;
}

/** What every call resolves to. */
export interface ApiResponse<T> {
  readonly data: T;
  readonly status: number;
  readonly headers: Headers;
}

type Bodyless<T> = Omit<ApiRequestOptions<T>, "method" | "json" | "body">;
type WithBody<T> = Omit<ApiRequestOptions<T>, "method" | "json">;

/** The API client. `T` types `data` (or the `schema` infers it). */
export interface ApiClient {
  request<T = unknown>(url: string, options?: ApiRequestOptions<T>): Promise<ApiResponse<T>>;
  get<T = unknown>(url: string, options?: Bodyless<T>): Promise<ApiResponse<T>>;
  delete<T = unknown>(url: string, options?: Bodyless<T>): Promise<ApiResponse<T>>;
  /** `json` is sent as JSON unless `options.body` is given. */
  post<T = unknown>(url: string, json?: unknown, options?: WithBody<T>): Promise<ApiResponse<T>>;
  put<T = unknown>(url: string, json?: unknown, options?: WithBody<T>): Promise<ApiResponse<T>>;
  patch<T = unknown>(url: string, json?: unknown, options?: WithBody<T>): Promise<ApiResponse<T>>;
}

/** Whether `url` goes to one of the API origins. */
function originPolicy(config: ResolvedApiConfig): (url: URL) => boolean {
  const origins = new Set(config.origins);
  return (url) => origins.has(url.origin);
}

/** The answer's body as `data`; a failed read is the caller's to type. */
async function readData(response: Response, type: ApiResponseType, describe: () => string): Promise<unknown> {
  if (type === "none") {
    await response.body?.cancel().catch(() => {});
    return undefined;
  }
  const body = await response.text();
  return type === "text" ? body : parseJson(body, response.status, describe);
}

function parseJson(text: string, status: number, describe: () => string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ApiError("ERR_TOKENKEEP_API_INVALID_BODY", `${describe()} answered a body that is not JSON`, {
      cause,
      status,
    });
  }
}

async function validate<T>(
  schema: StandardSchema<T>,
  data: unknown,
  where: { method: string; url: string; status: number },
): Promise<T> {
  const result = await schema["~standard"].validate(data);
  if (result.issues === undefined) return result.value;
  throw new ApiSchemaError({
    ...where,
    issues: result.issues.map((issue) => ({ message: issue.message, path: dottedPath(issue.path) })),
  });
}

/** Sends one call on behalf of a request's session (or none). */
export type ApiTransport = <T>(
  current: ApiSession | undefined,
  url: string,
  options: ApiRequestOptions<T>,
) => Promise<ApiResponse<T>>;

/**
 * What one call hands the instance's hooks through ky's `context` (shallow-merged by ky, so this
 * object itself reaches the hooks): the session to authorize with, and what the last hook saw.
 */
interface CallState {
  /** The auth hooks that add the session's token; `undefined` without a session, or when the request already went out once (a hand-over). */
  readonly auth: KyHooks | undefined;
  readonly signedIn: boolean;
  /**
   * The request as sent, after the request interceptors (a copy when it has a body, which fetch
   * consumes): for the 401 replay, and its URL for errors.
   */
  sent: Request | undefined;
}

/**
 * The outcome of a call's first attempt sent over plain `fetch` that is not final there: handed to
 * ky as the outcome of its own first attempt.
 */
type FirstAttempt = { readonly response: Response } | { readonly error: unknown };

/** An absolute http(s) URL, which ky sends as it is. */
const ABSOLUTE_HTTP = /^https?:\/\//i;
/** A URL with a scheme (ky's own test for an absolute input). */
const HAS_SCHEME = /^[a-z][\d+.a-z-]*:/i;
/** An absolute http(s) URL with a user part (`user:pass@`), which no `fetch` sends: left to the check. */
const USER_PART = /^https?:\/\/[^/?#\\]*@/i;
/** Characters ky strips before it checks a URL: such URLs are left to ky. */
const STRIPPED_BY_KY = /^[\0-\u0020]|[\t\n\r]/;

/**
 * Whether a call's headers remove one of the client's (ky's `undefined` value): such calls go through
 * ky, which keeps the header removed on its retries too (a hand-over would merge it back).
 */
function removesHeader(headers: ApiRequestOptions["headers"]): boolean {
  if (headers === undefined) return false;
  if (headers instanceof Headers) {
    for (const [, value] of headers) if (value === "undefined") return true;
    return false;
  }
  return Object.values(headers).some((value) => value === undefined || value === "undefined");
}

/**
 * ky's retry options: `limit` retries of the idempotent methods, and a wait the API asks for
 * (`Retry-After`, `RateLimit-Reset` on a 413, 429 or 503) cut to the attempt's limit, else ky would
 * hold the call for as long as the answer says (an hour, a day).
 */
const retryOf = (limit: number, timeoutMs: number | false) => ({
  limit,
  methods: [...IDEMPOTENT_METHODS],
  maxRetryAfter: timeoutMs === false ? DEFAULT_API_TIMEOUT_MS : timeoutMs,
});

/** An HTTP method as RFC 9110 spells one (a token). */
const METHOD = /^[!#$%&'*+.^_`|~\dA-Za-z-]+$/;
/** Methods the Fetch standard refuses to send. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
/** The longest timer a runtime keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2_147_483_647;
/** An http(s) scheme without `//` (ky refuses it beside a base URL, with a TypeError of its own). */
const MALFORMED_HTTP = /^https?:(?!\/\/)/i;

/**
 * Why a call's options cannot be honoured: a mistake in the calling code, refused at once (as the
 * config's are), never sent, retried or reported as a network error or a timeout (a timer of 0,
 * NaN or past 2^31-1 ms fires at once; ky and fetch throw a TypeError of their own for the rest).
 * Values are not quoted.
 */
function checkCall(method: string, options: ApiRequestOptions): void {
  const { timeoutMs, retry, responseType } = options;
  const problems: string[] = [];
  if (
    timeoutMs !== undefined &&
    timeoutMs !== false &&
    !(typeof timeoutMs === "number" && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)
  ) {
    problems.push(`timeoutMs: expected ms above 0, at most ${MAX_TIMER_MS}, or false`);
  }
  if (retry !== undefined && !(Number.isSafeInteger(retry) && retry >= 0)) {
    problems.push("retry: expected an integer from 0");
  }
  if (
    responseType !== undefined &&
    responseType !== "json" &&
    responseType !== "text" &&
    responseType !== "none"
  ) {
    problems.push('responseType: expected "json", "text" or "none"');
  }
  if (!METHOD.test(method) || FORBIDDEN_METHODS.has(method)) {
    problems.push(
      "method: expected an HTTP method such as GET or POST (fetch sends no CONNECT, TRACE or TRACK)",
    );
  }
  if (problems.length > 0) throw invalidOptions("api call", problems);
}

/**
 * The error for a call's `headers` that no request can carry: `Headers` refuses a name that is not
 * an HTTP token and a value with a line break or NUL inside, with a TypeError quoting the value
 * whole (an API key, often). A mistake in the calling code, like the call options `checkCall` refuses.
 */
const unsendableHeaders = () =>
  invalidOptions("api call", [
    "headers: expected names that are HTTP tokens and values without a line break or NUL inside (not shown)",
  ]);

/**
 * What a token may not hold: inside a header value the Fetch standard refuses it; at either end it
 * would be trimmed, sending another token than the session's.
 */
const UNSENDABLE = /[\0\n\r]/;

/** A call's own time limit (`ms`, its controller aborted when it ends); none for `timeoutMs: false`. */
const limitOf = (ms: number | false) =>
  ms === false ? undefined : { controller: new AbortController(), ms };

/** The signal of a request-like object handed to core's hook: never aborted. */
const NEVER = new AbortController().signal;

/** Internal options of {@link createApiTransport}. */
export interface ApiTransportOptions {
  /**
   * Whether the common call may go out over `fetch` directly (tests turn it off to run the same
   * cases through ky alone).
   * @default true
   */
  readonly fastPath?: boolean | undefined;
}

/**
 * Creates the transport of a validated API configuration: one ky instance per process, holding
 * every hook; a call passes ky only its method, its `context` and what it overrides. The common
 * call goes out over `fetch` directly (see the file's comment).
 */
export function createApiTransport(
  config: ResolvedApiConfig,
  transportOptions: ApiTransportOptions = {},
): ApiTransport {
  const allowed = originPolicy(config);
  const fetchImpl =
    config.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  const interceptors = config.interceptors;
  /**
   * The timers of replays whose answer arrived, by that answer: the call clears its replay's once it
   * has settled (see `afterUnauthorized`), as the limit bounds reading the answer's body too.
   */
  const replayTimers = new WeakMap<Response, ReturnType<typeof setTimeout>>();
  // The 401 replay goes out after ky's own timer stopped (or the fetch path's was cleared): it is
  // one more attempt, with the call's limit of its own.
  const replayFetchOf =
    (ms: number | false): typeof fetchImpl =>
    async (input, init) => {
      if (ms === false) return fetchImpl(input, init);
      const controller = new AbortController();
      const own = init?.signal ?? (input instanceof Request ? input.signal : undefined);
      const { signal } = controller;
      const timer = armLimit(controller, ms);
      try {
        const response = await fetchImpl(input, {
          ...init,
          signal: own ? AbortSignal.any([own, signal]) : signal,
        });
        replayTimers.set(response, timer);
        return response;
      } catch (error) {
        clearTimeout(timer);
        throw error;
      }
    };
  const replayFetch = replayFetchOf(config.timeoutMs);
  /** Sessions whose token and token type a header can carry (see `UNSENDABLE`). */
  const sendable = new WeakSet<Session>();
  // Auth hooks over a request's session (core's createKyHooks): a replay is matched to the token
  // that request sent, so one call uses one set for its token and for its 401.
  const hooksOver = (current: ApiSession, replay: typeof fetchImpl): KyHooks =>
    createKyHooks(
      {
        getToken: async () => {
          const now = current.current();
          if (now === undefined) throw new SessionExpiredError({ reason: "session-ended" });
          // `Headers.set` would refuse it with a TypeError quoting the whole value, token included.
          // Checked once per session object (a scan of the token on every call is most of a URL
          // parse's CPU): a request's calls, and the requests of one cookie, share it.
          if (!sendable.has(now)) {
            if (UNSENDABLE.test(now.accessToken) || UNSENDABLE.test(now.tokenType)) {
              throw new InvalidResponseError(
                "the session's access token or token type holds a line break or NUL, which no HTTP header can carry",
              );
            }
            sendable.add(now);
          }
          return sessionToTokenSet(now);
        },
        invalidate: async (token) => {
          await current.renew(typeof token === "string" ? token : token.accessToken);
          return true;
        },
      },
      { origins: (url) => allowed(url) && current.current() !== undefined, fetch: replay },
    );
  // A call's hooks, made on the session's first call with them and kept on the session (the fetch
  // path and the instance's hook decide who gets a token with the same code): the session's set,
  // or for a call with a `timeoutMs` of its own, a set whose replay keeps that limit.
  const authHooks = (current: ApiSession, timeoutMs: number | false | undefined): KyHooks => {
    if (timeoutMs === undefined || timeoutMs === config.timeoutMs) {
      current.authHooks ??= hooksOver(current, replayFetch);
      return current.authHooks;
    }
    current.limitedHooks ??= new Map();
    let hooks = current.limitedHooks.get(timeoutMs);
    if (hooks === undefined) {
      hooks = hooksOver(current, replayFetchOf(timeoutMs));
      current.limitedHooks.set(timeoutMs, hooks);
    }
    return hooks;
  };
  const stateOf = (options: { context: Record<string, unknown> }) => options.context.call as CallState;
  // What every call shares is given to ky once (ky merges a call's options into these on each call,
  // so the fewer keys a call passes, the less it costs).
  const instance: Options = {
    fetch: fetchImpl,
    // A 401 comes back as a response (renewed below); a call without a session asks for `true`.
    throwHttpErrors: (status: number) => status !== 401,
    timeout: config.timeoutMs,
    retry: retryOf(config.retry, config.timeoutMs),
    hooks: {
      beforeRequest: [
        ...(interceptors.request ?? []).map(
          (interceptor) =>
            async (state: { request: Request; options: { context: Record<string, unknown> } }) =>
              (await interceptor({ request: state.request, signedIn: stateOf(state.options).signedIn })) ??
              undefined,
        ),
        async ({ request, options }: { request: Request; options: { context: Record<string, unknown> } }) => {
          const call = stateOf(options);
          await call.auth?.beforeRequest[0]?.({ request });
          call.sent = request.body === null ? request : request.clone();
        },
      ],
      afterResponse: (interceptors.response ?? []).map(
        (interceptor) => async (state: { request: Request; response: Response; retryCount: number }) =>
          (await interceptor(state)) ?? undefined,
      ),
      beforeError: (interceptors.error ?? []).map(
        (interceptor) => async (state: BeforeErrorState) => (await interceptor(state)) ?? state.error,
      ),
    },
  };
  if (config.baseURL !== undefined) instance.baseUrl = config.baseURL;
  if (Object.keys(config.headers).length > 0) instance.headers = config.headers;
  const base = ky.create(instance);

  // The fetch path: only without interceptors (they are defined on ky's request, retry and error
  // states), and only for URLs whose resolution is plain (ky resolves a relative one against the
  // base URL as a Request would; anything else is left to ky).
  const fastPath =
    transportOptions.fastPath !== false &&
    (interceptors.request ?? []).length === 0 &&
    (interceptors.response ?? []).length === 0 &&
    (interceptors.error ?? []).length === 0;
  const baseHref = config.baseURL === undefined ? undefined : new Request(config.baseURL).url;
  const fastUrl = (url: string): string | undefined => {
    if (STRIPPED_BY_KY.test(url)) return undefined;
    // One that does not parse is caught where it fails (see `unparsed`): parsing it here too would
    // cost every call a second parse (the auth hook's `new URL`, or fetch's).
    if (ABSOLUTE_HTTP.test(url)) return USER_PART.test(url) ? undefined : url;
    if (baseHref === undefined || HAS_SCHEME.test(url)) return undefined;
    const resolved = URL.parse(url, baseHref);
    return resolved !== null && resolved.username === "" && resolved.password === ""
      ? resolved.href
      : undefined;
  };
  /**
   * The client's headers with the call's over them, as ky merges them (a call that removes one of
   * the client's headers never comes here: see `removesHeader`).
   */
  const headersOf = (own: ApiRequestOptions["headers"]): Headers => {
    const headers = new Headers(config.headers);
    if (own !== undefined) {
      let given: Headers;
      try {
        given = new Headers(own as HeadersInit);
      } catch {
        throw unsendableHeaders();
      }
      for (const [name, value] of given) headers.set(name, value);
    }
    return headers;
  };

  /**
   * The typed result of a 2xx answer (or of the 401 replay's answer). A read that fails is typed: a
   * timeout (`timedOut`: the call's timer ended it; or the runtime's TimeoutError), the caller's
   * abort, or the connection breaking off.
   */
  const finish = async <T>(
    response: Response,
    options: ApiRequestOptions<T>,
    method: string,
    target: () => string,
    read: { timedOut?: () => boolean } = {},
  ): Promise<ApiResponse<T>> => {
    if (response.bodyUsed) {
      // Not the network: something read the body and passed the answer on (a custom `fetch`).
      throw new TypeError(`${describeTarget(method, target())}: the answer's body was already read`);
    }
    let data: unknown;
    try {
      data = await readData(response, options.responseType ?? "json", () => describeTarget(method, target()));
    } catch (error) {
      throw toApiError(error, method, target(), options.signal, {
        reading: true,
        timedOut: read.timedOut?.() === true,
      });
    }
    return {
      data:
        options.schema === undefined
          ? (data as T)
          : await validate(options.schema, data, { method, url: target(), status: response.status }),
      status: response.status,
      headers: response.headers,
    };
  };

  /**
   * A 401 to a call with a session: core's hook invalidates exactly the token sent (here: renews
   * the session) and replays once; `settle` makes the result of the answer, else the typed error of
   * one that is still not 2xx is thrown. The replay's timer is cleared once either is done.
   */
  const afterUnauthorized = async <R>(
    hooks: KyHooks,
    response: Response,
    sent: Request,
    method: string,
    target: () => string,
    limit: { readonly controller: AbortController; readonly deadline: number } | undefined,
    settle: (answer: Response) => Promise<R>,
  ): Promise<R> => {
    let replay: Response | undefined;
    try {
      replay = await (hooks.afterResponse[0] as KyHooks["afterResponse"][number])({
        request: sent,
        response,
      });
    } catch (error) {
      // The 401's body is read by no one now: cancelled, so its connection is let go (a body that
      // never ends would hold it until the garbage collector found it). Not awaited: a response
      // interceptor's clone may hold the other branch of its stream.
      void response.body?.cancel().catch(() => {});
      // Renewal is not possible for this call: the error names it (the session's code has no target).
      if (isSessionExpiredError(error)) {
        throw new SessionExpiredError({ reason: error.reason, method, url: target() });
      }
      if (isApiError(error) || isTokenkeepError(error)) throw error;
      const timedOut = (error as { name?: unknown } | null)?.name === "TimeoutError";
      throw new ApiError(
        timedOut ? "ERR_TOKENKEEP_API_TIMEOUT" : "ERR_TOKENKEEP_API_NETWORK",
        `${describeTarget(method, target())} ${timedOut ? "took longer than its timeout" : "could not be reached"} (replay after a 401)`,
        { cause: (error as { cause?: unknown } | null)?.cause, transient: true },
      );
    }
    // The replay's limit bounds reading its answer too: its timer is cleared once the call settled.
    const replayTimer = replay && replayTimers.get(replay);
    try {
      if (replay !== undefined) {
        replayTimers.delete(replay);
        await response.body?.cancel().catch(() => {});
        response = replay;
      }
      if (!response.ok) {
        // Without a replay, the 401's own body is read within what is left of the call's limit (its
        // timer was stopped for a replay, which has a limit of its own); a replay's answer is still
        // bounded by that limit.
        const timer =
          replay === undefined && limit !== undefined
            ? armLimit(limit.controller, Math.max(0, limit.deadline - performance.now()))
            : undefined;
        let error: Error;
        try {
          error = await httpErrorOf(response, method, target());
        } finally {
          clearTimeout(timer);
        }
        for (const interceptor of interceptors.error ?? []) {
          error = (await interceptor({ request: sent, error, retryCount: 0 })) ?? error;
        }
        throw error;
      }
      return await settle(response);
    } finally {
      clearTimeout(replayTimer);
    }
  };

  /** A call through ky; `first` is the outcome of an attempt the fetch path already made. */
  const viaKy = async <T>(
    current: ApiSession | undefined,
    url: string,
    method: string,
    options: ApiRequestOptions<T>,
    first?: {
      readonly attempt: FirstAttempt;
      readonly request: Request;
      readonly hooks: KyHooks | undefined;
    },
  ): Promise<ApiResponse<T>> => {
    const signedIn = current?.current() !== undefined;
    const hooks = first !== undefined ? first.hooks : current && authHooks(current, options.timeoutMs);
    // After a first attempt the request is already complete (Authorization included, or not): ky's
    // auth hook is not run again, as ky would not run it for a retry.
    const call: CallState = { auth: first === undefined ? hooks : undefined, signedIn, sent: undefined };
    // Read only when needed (an error, a schema): serializing a Request's URL is not free.
    const target = () => call.sent?.url ?? url;
    // Only what this call sets: the common GET passes two keys.
    const kyOptions: Options = { method, context: { call } };
    if (current === undefined) kyOptions.throwHttpErrors = true;
    if (options.timeoutMs !== undefined) kyOptions.timeout = options.timeoutMs;
    if (options.retry !== undefined || options.timeoutMs !== undefined) {
      kyOptions.retry = retryOf(options.retry ?? config.retry, options.timeoutMs ?? config.timeoutMs);
    }
    if (options.body !== undefined) kyOptions.body = options.body;
    else if (options.json !== undefined) kyOptions.json = options.json;
    if (options.headers !== undefined) {
      // Checked before ky merges them, whose `Headers` would throw quoting the value (see
      // `unsendableHeaders`); a value of `undefined` removes a header there, so it is left out here.
      if (!(options.headers instanceof Headers)) {
        try {
          new Headers(Object.entries(options.headers).filter(([, value]) => value !== undefined));
        } catch {
          throw unsendableHeaders();
        }
      }
      kyOptions.headers = options.headers as HeadersInit;
    }
    if (options.searchParams !== undefined) {
      kyOptions.searchParams = options.searchParams as URLSearchParams;
    }
    // One limit per attempt for the answer and its body together, as on the fetch path: ky's own timer
    // stops at the headers (and its body methods would start a second full one). Each attempt notes
    // when it went out; once the answer is in, what is left of the limit bounds reading the body.
    const limit = limitOf(options.timeoutMs ?? config.timeoutMs);
    if (limit === undefined) {
      if (options.signal !== undefined) kyOptions.signal = options.signal;
    } else {
      const { signal } = limit.controller;
      kyOptions.signal = options.signal === undefined ? signal : AbortSignal.any([options.signal, signal]);
    }
    let attemptAt = performance.now();
    if (first !== undefined) {
      url = first.request.url;
      kyOptions.headers = first.request.headers;
      // ky's first attempt is the one already made: its fetch answers with that outcome once.
      let pending: FirstAttempt | undefined = first.attempt;
      kyOptions.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
        const attempt = pending;
        pending = undefined;
        if (attempt === undefined) return fetchImpl(input, init);
        // A timeout is the runtime's TimeoutError, which ky treats as its own (it checks the name).
        return "response" in attempt ? Promise.resolve(attempt.response) : Promise.reject(attempt.error);
      };
    }
    const send = kyOptions.fetch ?? fetchImpl;
    kyOptions.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
      attemptAt = performance.now();
      return send(input, init);
    };
    let response: Response;
    try {
      response = await base(url, kyOptions);
    } catch (error) {
      throw toApiError(error, method, target(), options.signal);
    }
    const sent = call.sent;
    if (response.status === 401 && hooks !== undefined && sent !== undefined) {
      // The replay's answer is bounded by the replay's own timeout signal.
      const bound = limit && { controller: limit.controller, deadline: attemptAt + limit.ms };
      return afterUnauthorized(hooks, response, sent, method, target, bound, (answer) =>
        finish(answer, options, method, target),
      );
    }
    if (limit === undefined) return finish(response, options, method, target);
    const { controller, ms } = limit;
    const left = ms - (performance.now() - attemptAt);
    const timer = armLimit(controller, Math.max(0, left));
    try {
      return await finish(response, options, method, target, { timedOut: () => controller.signal.aborted });
    } finally {
      clearTimeout(timer);
    }
  };

  /**
   * The client's error for an absolute URL on the fetch path that does not parse (a port past
   * 65535, an unclosed IPv6 bracket), else `undefined`: asked only once the auth hook's `new URL` or
   * fetch has failed, whose errors (the runtime's `ERR_INVALID_URL`, fetch's TypeError) hold the
   * whole URL, query included.
   */
  const unparsed = (href: string, method: string): TypeError | undefined => {
    if (URL.canParse(href)) return undefined;
    try {
      checkUrl(href, method);
    } catch (error) {
      return error as TypeError;
    }
    return undefined;
  };

  /** The common call over `fetch`: its first attempt, then ky for anything not final. */
  const viaFetch = async <T>(
    current: ApiSession | undefined,
    href: string,
    method: string,
    options: ApiRequestOptions<T>,
  ): Promise<ApiResponse<T>> => {
    const headers = headersOf(options.headers);
    const hooks = current && authHooks(current, options.timeoutMs);
    if (hooks !== undefined) {
      // Core's hook reads a request's URL, headers and signal only: a `Request` is built when one is
      // needed (a 401's replay, a hand-over to ky), not on every call (fetch builds its own).
      const seen: Pick<Request, "url" | "headers" | "signal"> = { url: href, headers, signal: NEVER };
      try {
        await hooks.beforeRequest[0]?.({ request: seen as Request });
      } catch (error) {
        throw unparsed(href, method) ?? error;
      }
    }
    const target = () => href;
    const sent = () => new Request(href, { method, headers });
    // The client's timeout, cleared as soon as the call is settled (see `armLimit`). With
    // `timeoutMs: false`, no signal at all: a signal on `fetch` costs CPU on every call.
    const limit = limitOf(options.timeoutMs ?? config.timeoutMs);
    const controller = limit?.controller;
    const timer = limit && armLimit(limit.controller, limit.ms);
    const sentAt = limit && performance.now();
    try {
      let response: Response;
      try {
        response = await fetchImpl(
          href,
          controller === undefined ? { method, headers } : { method, headers, signal: controller.signal },
        );
      } catch (error) {
        clearTimeout(timer);
        const invalid = unparsed(href, method);
        if (invalid !== undefined) throw invalid;
        return await viaKy(current, href, method, options, { attempt: { error }, request: sent(), hooks });
      }
      if (response.status === 401 && hooks !== undefined) {
        clearTimeout(timer); // the replay has its own
        const bound = limit && { controller: limit.controller, deadline: (sentAt as number) + limit.ms };
        // The replay's answer is read under the replay's own limit.
        return await afterUnauthorized(hooks, response, sent(), method, target, bound, (answer) =>
          finish(answer, options, method, target),
        );
      } else if (!response.ok) {
        clearTimeout(timer);
        return await viaKy(current, href, method, options, { attempt: { response }, request: sent(), hooks });
      }
      // The timer also bounds reading the body (it aborts the fetch, which ends the read).
      return await finish(response, options, method, target, {
        timedOut: () => controller?.signal.aborted === true,
      });
    } finally {
      clearTimeout(timer);
    }
  };

  /**
   * Refuses a URL no attempt could send (a relative one without `api.baseURL`, another scheme, a
   * user part): a
   * mistake in the calling code, not an outage, so never retried nor reported as a network error.
   */
  const invalidUrl = (problem: string) =>
    Object.assign(new TypeError(`@tokenkeep/astro: ${problem}`), { code: "ERR_TOKENKEEP_API_INVALID_URL" });
  const checkUrl = (url: string, method: string): void => {
    const resolved = URL.parse(url, baseHref);
    if (resolved !== null && (resolved.protocol === "http:" || resolved.protocol === "https:")) {
      // Beside a base URL, `https:host/x` resolves as a path of the base, which ky refuses.
      if (
        baseHref !== undefined &&
        MALFORMED_HTTP.test(
          String(url)
            .replace(/^[\0-\u0020]+/, "")
            .replace(/[\t\n\r]/g, ""),
        )
      ) {
        throw invalidUrl(`${method}: an http(s) URL needs // after its scheme`);
      }
      if (resolved.username === "" && resolved.password === "") return;
      // fetch refuses it with a TypeError quoting the whole URL, user part and query included.
      throw invalidUrl(
        `${method} ${resolved.origin}${resolved.pathname}: a URL with a user part cannot be sent (pass credentials in headers)`,
      );
    }
    // Never the whole URL: a query or a user part may carry what must not be logged (everything
    // from `//` to the last `@` goes, then the query), nor a scheme (`user:secret@host` parses as one).
    if (resolved !== null) throw invalidUrl(`${method}: expected an http(s) URL`);
    const path = String(url)
      .replace(/\/\/.*@/, "//")
      .split(/[?#]/, 1)[0];
    const why =
      baseHref === undefined ? "a relative URL needs api.baseURL in the tokenkeep config" : "not a URL";
    throw invalidUrl(`${method} ${path}: ${why}`);
  };

  return async <T>(current: ApiSession | undefined, url: string, options: ApiRequestOptions<T>) => {
    const method = options.method === undefined ? "GET" : options.method.toUpperCase();
    if (
      options.timeoutMs !== undefined ||
      options.retry !== undefined ||
      options.responseType !== undefined ||
      (method !== "GET" && method !== "HEAD")
    ) {
      checkCall(method, options);
    }
    if (
      fastPath &&
      (method === "GET" || method === "HEAD") &&
      options.retry === undefined &&
      options.body === undefined &&
      options.json === undefined &&
      options.signal === undefined &&
      options.searchParams === undefined &&
      !removesHeader(options.headers)
    ) {
      const href = fastUrl(url);
      if (href !== undefined) return viaFetch(current, href, method, options);
    }
    checkUrl(url, method);
    return viaKy(current, url, method, options);
  };
}

/** The client's methods over a transport, for the session `session()` finds at call time. */
export function bindApiClient(transport: ApiTransport, session: () => ApiSession | undefined): ApiClient {
  const request = <T>(url: string, options: ApiRequestOptions<T> = {}) =>
    transport<T>(session(), url, options);
  const bodyless =
    (method: string) =>
    <T>(url: string, options: Bodyless<T> = {}) =>
      request<T>(url, { ...options, method });
  const withBody =
    (method: string) =>
    <T>(url: string, json?: unknown, options: WithBody<T> = {}) =>
      request<T>(url, { ...options, method, json });
  return {
    request,
    get: bodyless("GET"),
    delete: bodyless("DELETE"),
    post: withBody("POST"),
    put: withBody("PUT"),
    patch: withBody("PATCH"),
  };
}

/**
 * An error answer's body as text, `""` when it cannot be read or is past
 * {@link API_ERROR_BODY_MAX_BYTES} (the rest is then cancelled, unread): ky bounds the error bodies
 * it reads the same way, and an error's `data` is no reason to buffer whatever an answer sends.
 */
async function errorText(response: Response): Promise<string> {
  try {
    // No `declaredLength`: the bytes sent decide, as they always have here.
    const bytes = await readLimited(response.body, { maxBytes: API_ERROR_BODY_MAX_BYTES });
    return bytes === undefined ? "" : new TextDecoder().decode(bytes);
  } catch {
    return "";
  }
}

/** The typed error of an answer that is not 2xx and that ky did not throw for (a 401 after the replay). */
async function httpErrorOf(response: Response, method: string, url: string): Promise<ApiHttpError> {
  const text = await errorText(response);
  let data: unknown = text === "" ? undefined : text;
  if ((response.headers.get("content-type") ?? "").includes("json")) {
    try {
      data = JSON.parse(text);
    } catch {
      // keep the text
    }
  }
  return new ApiHttpError({ method, url, status: response.status, data, headers: response.headers });
}

/**
 * ky's and the runtime's failures as our typed errors; ours and the interceptors' own errors pass
 * through. `reading`: the failure came while the answer's body was read (`timedOut`: our timer ended it).
 */
function toApiError(
  error: unknown,
  method: string,
  url: string,
  signal: AbortSignal | undefined,
  read: { readonly reading: boolean; readonly timedOut: boolean } = { reading: false, timedOut: false },
): unknown {
  if (isApiError(error)) return error;
  if (isHTTPError(error)) {
    return new ApiHttpError({
      method,
      url: error.request.url,
      status: error.response.status,
      data: error.data,
      headers: error.response.headers,
    });
  }
  const target = describeTarget(method, url);
  // Not ky's error itself as the cause: its enumerable `request` carries the Authorization header
  // (and its message the full URL), which a logged cause would print. The runtime's cause is enough.
  const cause = isKyError(error) ? (error as Error).cause : error;
  // ky's guard goes by the name: its own TimeoutError and the runtime's (a timer's abort reason) alike.
  if (read.timedOut || isTimeoutError(error)) {
    return new ApiError("ERR_TOKENKEEP_API_TIMEOUT", `${target} took longer than its timeout`, {
      cause,
      transient: true,
    });
  }
  if (signal?.aborted) {
    return new ApiError("ERR_TOKENKEEP_API_ABORTED", `${target} was aborted by its signal`, { cause });
  }
  if (read.reading && (error instanceof TypeError || error instanceof DOMException || isKyError(error))) {
    // The connection broke off while the answer was read.
    return new ApiError("ERR_TOKENKEEP_API_NETWORK", `${target} broke off while its answer was read`, {
      cause,
      transient: true,
    });
  }
  if (isKyError(error) || error instanceof TypeError) {
    return new ApiError("ERR_TOKENKEEP_API_NETWORK", `${target} could not be reached`, {
      cause,
      transient: true,
    });
  }
  return error;
}
