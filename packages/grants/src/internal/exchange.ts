import {
  AbortError,
  InvalidResponseError,
  isInvalidResponseError,
  isOAuthError,
  isTransientError,
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

/**
 * The programming error a `fetch` failure is, or `undefined` for a network failure: a `TypeError` or
 * `RangeError` that is not the one `fetch` rejects with when no answer came (core's
 * `isTransientError` knows each runtime's: undici's "fetch failed", Chromium's "Failed to fetch", a
 * Bun `code`...), or one that `network` says is and that wraps a bug (undici reports a dispatcher's
 * `TypeError` as "fetch failed" with that `cause`). Anything else (a plain `Error` of a custom
 * `fetch`) stays a network failure.
 */
function bugOf(error: unknown, network = isTransientError(error)): unknown {
  if (error instanceof TypeError || error instanceof RangeError) return network ? bugOf(error.cause) : error;
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
 * they carry the client's credentials. POST redirects are not followed. Two failures are permanent
 * `InvalidResponseError`s: a request `fetch` could not build (credentials in the URL, a bad header;
 * the runtime's error, which quotes them, is dropped), and an answer from another origin than the
 * endpoint's (a redirect, a ky hook that rewrote the request). A bug of the transport ({@link bugOf}:
 * a `TypeError` that is not `fetch`'s "no answer", such as the `ERR_TOKENKEEP_INVALID_OPTIONS` one of
 * options `fetch` could check only at first use, like `createDPoP`'s `keyPair`) is rethrown as it is,
 * unless the caller aborted or time ran out first.
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
      // ky's errors hold the request (and so the Authorization header): keep only what they wrap. A ky
      // error here is its `NetworkError` (no HTTPError, no timeout of its own): ky judged it a network
      // failure, by a list of messages longer than core's.
      const wrapped = error instanceof Error && "request" in error;
      const cause = wrapped ? error.cause : error;
      // A bug (a user's `fetch` or ky hook that throws a `TypeError`, a bad `dispatcher`): as it is,
      // permanent, never a transient NetworkError that the manager would retry and hide.
      const bug = bugOf(cause, wrapped || undefined);
      if (bug) throw bug;
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
