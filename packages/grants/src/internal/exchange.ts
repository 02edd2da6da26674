import {
  AbortError,
  InvalidResponseError,
  isInvalidResponseError,
  isOAuthError,
  NetworkError,
  TimeoutError,
  type TokenkeepError,
} from "@tokenkeep/core";
import { describeReason, endpointOf, networkReason } from "@tokenkeep/core/http";
import { INVALID_OPTIONS_CODE } from "@tokenkeep/core/options";
import type { KyLike } from "../grant-options.js";

/** How requests are sent: a `fetch` or a ky instance, and how long one may take. */
export interface Transport {
  readonly fetch?: typeof globalThis.fetch | undefined;
  readonly ky?: KyLike | undefined;
  readonly timeoutMs: number;
}

/**
 * One HTTP request to an authorization server: what `fetch` gets besides the signal. Credentials
 * travel in POST bodies, so a POST's redirect is reported, never followed with them elsewhere: the
 * type allows no other mode.
 */
export type ExchangeRequest = {
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
} & (
  | { readonly method: "POST"; readonly redirect: "manual" }
  | { readonly method: "GET"; readonly redirect: "follow" }
);

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
 * they carry the client's credentials. POST redirects are not followed. Two failures are permanent
 * `InvalidResponseError`s: a request `fetch` could not build (credentials in the URL, a bad header;
 * the runtime's error, which quotes them, is dropped), and an answer from another origin than the
 * endpoint's (a redirect, a ky hook that rewrote the request). A `TypeError` with the code
 * `ERR_TOKENKEEP_INVALID_OPTIONS` that `fetch` throws (options it could check only at first use, such
 * as `createDPoP`'s `keyPair`) is rethrown as it is.
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
  const init = { ...request, signal: signal ? AbortSignal.any([signal, timeout]) : timeout };
  try {
    try {
      // What `fetch` would refuse to build (credentials in a URL the metadata named, a header value
      // with a line break) fails for good. Not the runtime's error: it quotes the URL or the value.
      new Request(url, init);
    } catch {
      throw new InvalidResponseError("cannot be built: credentials in the URL or a bad header");
    }
    // ky joins its `prefix` or `baseUrl` to a string, even an absolute URL: a `URL` it leaves as it is.
    // Its `searchParams` would still be added: unset, so the endpoint is exactly the one named.
    const response = await (transport.ky
      ? transport.ky(new URL(url), {
          ...init,
          searchParams: undefined,
          retry: 0,
          timeout: false,
          throwHttpErrors: false,
        })
      : (transport.fetch ?? globalThis.fetch)(url, init));
    // An answer from another origin (a redirect, a ky hook) is not the server's: nothing of it is used.
    // (A `Response` made by hand, as a test double's, has no `url`.)
    if (response.url && !response.url.startsWith(`${new URL(url).origin}/`)) {
      await response.body?.cancel().catch(() => {});
      throw new InvalidResponseError(
        `the answer came from another origin (${new URL(response.url).origin}): not used`,
      );
    }
    return await read(response);
  } catch (error) {
    // Options the `fetch` found wrong at first use (a DPoP key pair whose halves are two keys): the
    // programmer error as it is, permanent, not a network failure to retry. It names no credential.
    if ((error as { code?: unknown } | undefined)?.code === INVALID_OPTIONS_CODE) throw error;
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
