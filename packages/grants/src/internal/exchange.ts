import {
  AbortError,
  isInvalidResponseError,
  isOAuthError,
  NetworkError,
  TimeoutError,
  type TokenkeepError,
} from "@tokenkeep/core";
import type { KyLike } from "../grant-options.js";
import { describeReason, endpointOf, networkReason } from "./network-reason.js";

/** How requests are sent: a `fetch` or a ky instance, and how long one may take. */
export interface Transport {
  readonly fetch?: typeof globalThis.fetch | undefined;
  readonly ky?: KyLike | undefined;
  readonly timeoutMs: number;
}

/** One HTTP request to an authorization server. */
export interface ExchangeRequest {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
  /** Names the request in error messages ("token request"). */
  readonly what: string;
}

/**
 * Names the endpoint on an error that passed through: an enumerable `endpoint` (so `toJSON()` has
 * it) and, unless the message already names it, a message prefixed with `<what> to <endpoint>: `.
 * Core's errors carry no such field, so it is added to the instance.
 */
function withEndpoint<E extends TokenkeepError>(error: E, request: ExchangeRequest, endpoint: string): E {
  if (!error.message.includes(endpoint)) error.message = `${request.what} to ${endpoint}: ${error.message}`;
  return Object.assign(error, { endpoint });
}

/**
 * Sends `request` and reads its answer with `read`, both within `transport.timeoutMs` and the
 * caller's `signal`. Failures become core's errors: `AbortError` when the caller aborted,
 * `TimeoutError` when time ran out, `NetworkError` when no answer came (with the runtime's `reason`
 * code: `ECONNREFUSED`, `ENOTFOUND`, a TLS code); errors thrown by `read` (`OAuthError`,
 * `InvalidResponseError`) pass through. Every one but `AbortError` names the endpoint (origin and
 * path) in its message and `endpoint` field. No request header or body ever reaches an error: they
 * carry the client's credentials. POST redirects are not followed.
 */
export async function exchange<T>(
  request: ExchangeRequest,
  transport: Transport,
  signal: AbortSignal | undefined,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  if (signal?.aborted) throw new AbortError(`${request.what} was aborted`, { cause: signal.reason });
  const timeout = AbortSignal.timeout(transport.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  // Credentials travel in POST bodies: a redirect is reported, never followed with them elsewhere.
  const redirect: RequestRedirect = request.method === "POST" ? "manual" : "follow";
  const init = {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: combined,
    redirect,
  };
  try {
    const response = transport.ky
      ? await transport.ky(request.url, { ...init, retry: 0, timeout: false, throwHttpErrors: false })
      : await (transport.fetch ?? globalThis.fetch)(request.url, init);
    return await read(response);
  } catch (error) {
    const endpoint = endpointOf(request.url);
    if (isOAuthError(error) || isInvalidResponseError(error)) throw withEndpoint(error, request, endpoint);
    if (signal?.aborted) throw new AbortError(`${request.what} was aborted`, { cause: signal.reason });
    if (timeout.aborted) {
      throw withEndpoint(
        new TimeoutError(`${request.what} to ${endpoint} timed out after ${transport.timeoutMs} ms`, {
          timeoutMs: transport.timeoutMs,
        }),
        request,
        endpoint,
      );
    }
    // ky's errors hold the request (and so the Authorization header): keep only what they wrap.
    const cause = error instanceof Error && "request" in error ? error.cause : error;
    const reason = networkReason(cause);
    const why = reason ? describeReason(reason) : "no answer";
    const failure = withEndpoint(
      new NetworkError(`${request.what} to ${endpoint} failed: ${why}`, { cause }),
      request,
      endpoint,
    );
    throw reason ? Object.assign(failure, { reason }) : failure;
  }
}
