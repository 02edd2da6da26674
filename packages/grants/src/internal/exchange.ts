import {
  AbortError,
  isInvalidResponseError,
  isOAuthError,
  NetworkError,
  TimeoutError,
  type TokenkeepError,
} from "@tokenkeep/core";
import { describeReason, endpointOf, networkReason } from "@tokenkeep/core/http";
import type { KyLike } from "../grant-options.js";

/** How requests are sent: a `fetch` or a ky instance, and how long one may take. */
export interface Transport {
  readonly fetch?: typeof globalThis.fetch | undefined;
  readonly ky?: KyLike | undefined;
  readonly timeoutMs: number;
}

/** One HTTP request to an authorization server: what `fetch` gets besides the signal and redirect mode. */
export interface ExchangeRequest {
  readonly method: "GET" | "POST";
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
}

/** The error of a request (or discovery) its caller aborted: "token request was aborted". */
export const abortedError = (what: string, signal: AbortSignal | undefined): AbortError =>
  new AbortError(`${what} was aborted`, { cause: signal?.reason });

/**
 * Sends `request` to `url` and reads its answer with `read`, both within `transport.timeoutMs` and the
 * caller's `signal`; `what` names the request in error messages ("token request"). Failures become
 * core's errors: `AbortError` when the caller aborted, `TimeoutError` when time ran out, `NetworkError` when no answer came (with the runtime's `reason`
 * code: `ECONNREFUSED`, `ENOTFOUND`, a TLS code); errors thrown by `read` (`OAuthError`,
 * `InvalidResponseError`) pass through. Every one but `AbortError` names the endpoint (origin and
 * path) in its message and an enumerable `endpoint` field (so `toJSON()` has it; core's errors carry
 * no such field, so it is added to the instance). No request header or body ever reaches an error:
 * they carry the client's credentials. POST redirects are not followed.
 */
export async function exchange<T>(
  url: string,
  what: string,
  request: ExchangeRequest,
  transport: Transport,
  signal: AbortSignal | undefined,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  if (signal?.aborted) throw abortedError(what, signal);
  const timeout = AbortSignal.timeout(transport.timeoutMs);
  const init = {
    ...request,
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    // Credentials travel in POST bodies: a redirect is reported, never followed with them elsewhere.
    redirect: request.method === "POST" ? "manual" : "follow",
  } as const;
  try {
    return await read(
      await (transport.ky
        ? transport.ky(url, { ...init, retry: 0, timeout: false, throwHttpErrors: false })
        : (transport.fetch ?? globalThis.fetch)(url, init)),
    );
  } catch (error) {
    const endpoint = endpointOf(url);
    let failure: TokenkeepError;
    if (isOAuthError(error) || isInvalidResponseError(error)) {
      failure = error;
      if (!error.message.includes(endpoint)) error.message = `${what} to ${endpoint}: ${error.message}`;
    } else if (signal?.aborted) {
      throw abortedError(what, signal);
    } else if (timeout.aborted) {
      failure = new TimeoutError(`${what} to ${endpoint} timed out after ${transport.timeoutMs} ms`, {
        timeoutMs: transport.timeoutMs,
      });
    } else {
      // ky's errors hold the request (and so the Authorization header): keep only what they wrap.
      const cause = error instanceof Error && "request" in error ? error.cause : error;
      const reason = networkReason(cause);
      failure = new NetworkError(
        `${what} to ${endpoint} failed: ${reason ? describeReason(reason) : "no answer"}`,
        {
          cause,
        },
      );
      if (reason) Object.assign(failure, { reason });
    }
    throw Object.assign(failure, { endpoint });
  }
}
