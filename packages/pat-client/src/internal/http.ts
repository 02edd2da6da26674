import { isTransientStatus } from "@tokenkeep/core";
import {
  describeReason,
  endpointOf,
  networkReason,
  parseRetryAfter,
  redactSecrets,
} from "@tokenkeep/core/http";
import { type ApiError, isApiError } from "@tokenkeep/pat-protocol";
import ky, { HTTPError, isNetworkError, isTimeoutError, type KyInstance } from "ky";
import type * as z from "zod";
import type { PatRetryState } from "../client-options";
import { PatClientError, type PatClientOperation } from "../pat-client-error";
import { kyRetryOptions, type ResolvedRetryPolicy } from "../retry-policy";
import { type BodyRead, readBody } from "./read-body";
import { redactJson } from "./redact";

/** What every request of a client shares. */
export interface HttpSettings {
  readonly fetch: typeof globalThis.fetch | undefined;
  /** Each attempt's bound for its headers, and then again for its body. */
  readonly timeoutMs: number;
  /** Largest answer body read, in bytes. */
  readonly maxResponseBytes: number;
  readonly retry: ResolvedRetryPolicy;
  readonly random: () => number;
  readonly now: () => number;
  /** Strings never allowed into an error (the PAT). */
  readonly secrets: readonly string[];
  /** Told before each retry. */
  readonly onRetry?: ((state: PatRetryState) => void) | undefined;
}

/** One request. */
export interface HttpRequest {
  readonly operation: PatClientOperation;
  readonly method: "GET" | "POST" | "PUT" | "PATCH";
  readonly url: string;
  /** A JSON body. */
  readonly json?: unknown;
  /** A form body (`application/x-www-form-urlencoded`). */
  readonly form?: URLSearchParams;
  readonly searchParams?: URLSearchParams;
  /** Sent as `Authorization`. */
  readonly authorization?: string;
  /** Further secrets of this request, kept out of errors (the JWT). */
  readonly secrets?: readonly string[];
  /** `false` for a request that must not run twice (issuing a token). */
  readonly idempotent: boolean;
  readonly signal?: AbortSignal | undefined;
  /** Told before each retry of this request (an earlier attempt may have been processed). */
  readonly onRetry?: (() => void) | undefined;
}

/** Sends requests with the client's retry policy and turns every failure into a {@link PatClientError}. */
export interface Http {
  /** Sends `request` and validates its JSON answer with `schema`. */
  json<S extends z.ZodType>(request: HttpRequest, schema: S): Promise<z.output<S>>;
  /** Sends `request`, whose answer has no body to read (204). */
  empty(request: HttpRequest): Promise<void>;
}

/** Creates the HTTP layer of a client. */
export function createHttp(settings: HttpSettings): Http {
  const client: KyInstance = ky.create({
    ...(settings.fetch && { fetch: settings.fetch }),
    timeout: settings.timeoutMs,
    throwHttpErrors: true,
  });
  const idempotentRetry = kyRetryOptions(settings.retry, true, settings.random, settings.now);
  const onceRetry = kyRetryOptions(settings.retry, false, settings.random, settings.now);

  async function send(request: HttpRequest): Promise<Response> {
    const secrets = [...settings.secrets, ...(request.secrets ?? [])];
    const headers: Record<string, string> = { accept: "application/json" };
    if (request.authorization) headers.authorization = request.authorization;
    try {
      return await client(request.url, {
        method: request.method,
        headers,
        ...(request.json !== undefined && { json: request.json }),
        ...(request.form && { body: request.form }),
        ...(request.searchParams && { searchParams: request.searchParams }),
        retry: request.idempotent ? idempotentRetry : onceRetry,
        // A redirect is answered as an error, never followed: following a 307 would send the PAT
        // (exchange body) or the JWT to wherever it points, plain http included.
        redirect: "manual",
        ...(request.signal && { signal: request.signal }),
        ...((settings.onRetry || request.onRetry) && {
          hooks: {
            beforeRetry: [
              ({ error, retryCount }) => {
                request.onRetry?.();
                try {
                  settings.onRetry?.({
                    operation: request.operation,
                    attempt: retryCount + 1,
                    attempts: settings.retry.limit + 1,
                    error: toClientError(error, request, secrets, settings.now, false),
                  });
                } catch {
                  // A listener's failure must not change the request's outcome.
                }
              },
            ],
          },
        }),
      });
    } catch (error) {
      throw toClientError(error, request, secrets, settings.now, true);
    }
  }

  return {
    async json(request, schema) {
      const response = await send(request);
      // Bounded in time and size: ky's timeout ends with the headers, and `response.json()` reads any size.
      const read = await readBody(response, {
        timeoutMs: settings.timeoutMs,
        maxBytes: settings.maxResponseBytes,
      });
      if ("failure" in read) throw bodyFailure(read, request, response.status, settings.maxResponseBytes);
      let body: unknown;
      try {
        body = JSON.parse(read.text);
      } catch {
        // Not kept as the cause: JSON.parse's message quotes the body, which may hold a token.
        throw invalidResponse(request, response.status, ["(body): not JSON"]);
      }
      const result = schema.safeParse(body);
      if (!result.success) {
        const problems = result.error.issues.map(
          (issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`,
        );
        throw invalidResponse(request, response.status, problems);
      }
      return result.data;
    },
    async empty(request) {
      const response = await send(request);
      await response.body?.cancel();
    },
  };
}

/** Why an answer's body could not be read, as a {@link PatClientError} carrying the answer's status. */
function bodyFailure(
  read: Exclude<BodyRead, { text: string }>,
  request: HttpRequest,
  status: number,
  maxBytes: number,
): PatClientError {
  const { operation } = request;
  const endpoint = endpointOf(request.url);
  if (read.failure === "too-large") {
    return invalidResponse(request, status, [`(body): larger than ${maxBytes} bytes`]);
  }
  if (request.signal?.aborted) {
    return new PatClientError({
      code: "ERR_PAT_CLIENT_ABORTED",
      operation,
      status,
      cause: request.signal.reason,
      endpoint,
      detail: "the request was aborted",
    });
  }
  if (read.failure === "timeout") {
    return new PatClientError({
      code: "ERR_PAT_CLIENT_TIMEOUT",
      operation,
      status,
      transient: true,
      endpoint,
      detail: `${endpoint} answered ${status} but did not send the whole body in time`,
    });
  }
  // Not the stream's error as the cause: it may hold the request (and so its headers).
  return new PatClientError({
    code: "ERR_PAT_CLIENT_NETWORK",
    operation,
    status,
    transient: true,
    endpoint,
    detail: `${endpoint} answered ${status} but the body was cut off`,
  });
}

function invalidResponse(request: HttpRequest, status: number, problems: readonly string[]): PatClientError {
  // zod's messages name the expected type, never the received value.
  const endpoint = endpointOf(request.url);
  return new PatClientError({
    code: "ERR_PAT_CLIENT_INVALID_RESPONSE",
    operation: request.operation,
    status,
    cause: problems,
    endpoint,
    detail: `invalid response (${status}) from ${endpoint}: ${problems.slice(0, 3).join("; ")}`,
  });
}

/**
 * `error` as a {@link PatClientError}. `final`: no retry follows (the error the call throws, rather
 * than one told to `onRetry`).
 */
function toClientError(
  error: unknown,
  request: HttpRequest,
  secrets: readonly string[],
  now: () => number,
  final: boolean,
): PatClientError {
  const { operation } = request;
  const endpoint = endpointOf(request.url);
  if (error instanceof HTTPError) {
    const { status, statusText, headers } = error.response;
    const reason = redactSecrets(statusText || `HTTP ${status}`, secrets);
    const body = redactJson(error.data, secrets);
    const apiError: ApiError | undefined = isApiError(body) ? body : undefined;
    const retryAfterMs = parseRetryAfter(headers.get("retry-after"), now());
    const transient = isTransientStatus(status);
    // The exchange's last answer asked to wait and the client does not (longer than `maxDelayMs`, or
    // the retries are spent): core's token manager keeps that window, so the calls it fails fast with
    // ERR_PAT_CLIENT_THROTTLED and this one, which saw the answer, share the code.
    const throttled = final && operation === "exchange" && transient && (retryAfterMs ?? 0) > 0;
    const wait = throttled ? `; asked to wait ${Math.ceil((retryAfterMs ?? 0) / 1000)} s` : "";
    return new PatClientError({
      code: throttled ? "ERR_PAT_CLIENT_THROTTLED" : "ERR_PAT_CLIENT_HTTP",
      operation,
      status,
      cause: apiError ?? reason,
      transient,
      retryAfterMs,
      endpoint,
      detail: `${status} ${apiError?.error.message ?? reason} (from ${endpoint})${wait}`,
    });
  }
  if (request.signal?.aborted || (error instanceof Error && error.name === "AbortError")) {
    return new PatClientError({
      code: "ERR_PAT_CLIENT_ABORTED",
      operation,
      cause: request.signal?.reason,
      endpoint,
      detail: "the request was aborted",
    });
  }
  if (isTimeoutError(error)) {
    return new PatClientError({
      code: "ERR_PAT_CLIENT_TIMEOUT",
      operation,
      transient: true,
      endpoint,
      detail: `${endpoint} did not answer in time`,
    });
  }
  // A network error: keep the runtime's error (not ky's, which holds the request and its headers).
  const cause = isNetworkError(error) ? error.cause : error;
  const reason = networkReason(cause);
  const why = reason
    ? describeReason(reason)
    : cause instanceof Error
      ? redactSecrets(describe(cause), secrets)
      : "no answer";
  return new PatClientError({
    code: "ERR_PAT_CLIENT_NETWORK",
    operation,
    cause,
    transient: true,
    endpoint,
    reason,
    detail: `no answer from ${endpoint}: ${why}`,
  });
}

/** `fetch failed: other side closed`: the message and the innermost cause's message. */
function describe(error: Error): string {
  let inner: unknown = error.cause;
  let last: Error | undefined;
  for (let depth = 0; inner instanceof Error && depth < 5; depth++) {
    last = inner;
    inner = inner.cause;
  }
  return last && last.message !== error.message ? `${error.message}: ${last.message}` : error.message;
}
