import {
  AbortError,
  isInvalidResponseError,
  isOAuthError,
  NetworkError,
  TimeoutError,
} from "@tokenkeep/core";
import type { KyLike } from "../grant-options.js";

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

function where(url: string): string {
  const parsed = URL.parse(url);
  return parsed ? `${parsed.origin}${parsed.pathname}` : "the server";
}

/**
 * Sends `request` and reads its answer with `read`, both within `transport.timeoutMs` and the
 * caller's `signal`. Failures become core's errors: `AbortError` when the caller aborted,
 * `TimeoutError` when time ran out, `NetworkError` when no answer came; errors thrown by `read`
 * (`OAuthError`, `InvalidResponseError`) pass through. No request header or body ever reaches an
 * error: they carry the client's credentials. POST redirects are not followed.
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
    if (isOAuthError(error) || isInvalidResponseError(error)) throw error;
    if (signal?.aborted) throw new AbortError(`${request.what} was aborted`, { cause: signal.reason });
    if (timeout.aborted) {
      throw new TimeoutError(
        `${request.what} to ${where(request.url)} timed out after ${transport.timeoutMs} ms`,
        {
          timeoutMs: transport.timeoutMs,
        },
      );
    }
    // ky's errors hold the request (and so the Authorization header): keep only what they wrap.
    const cause = error instanceof Error && "request" in error ? error.cause : error;
    throw new NetworkError(`${request.what} to ${where(request.url)} failed: no answer`, { cause });
  }
}
