import { AbortError, InvalidResponseError, NetworkError, TimeoutError } from "../errors/errors.js";
import { isTransientStatus } from "../errors/failure-classification.js";
import { isObject } from "../options/rules.js";
import {
  type ParseTokenResponseOptions,
  parseTokenResponse,
  throwIfErrorBody,
} from "../token/token-response.js";
import type { TokenSet } from "../token/token-set.js";
import { parseRetryAfter } from "./retry-after.js";

/** Options of {@link readTokenResponse}. */
export interface ReadTokenResponseOptions extends Omit<ParseTokenResponseOptions, "status"> {
  /**
   * The clock used to turn a `Retry-After` date into a wait, in epoch ms.
   * @default Date.now
   */
  now?: (() => number) | undefined;
}

function isJsonMediaType(contentType: string | null): boolean {
  if (contentType === null) return true; // no claim either way: let the body decide
  const type = contentType.split(";")[0]!.trim().toLowerCase(); // split always gives one part
  return type === "application/json" || type.endsWith("+json");
}

/**
 * Turns the HTTP answer of a token endpoint into a {@link TokenSet} or the right error:
 *
 * - 2xx with a JSON body: {@link parseTokenResponse} (an `error` field still makes it an `OAuthError`).
 * - An RFC 6749 section 5.2 error body (any status): `OAuthError` with `status`, `errorUri`,
 *   `wwwAuthenticate` and `retryAfterMs` (from `Retry-After`).
 * - Anything else (HTML from a proxy, an empty body, another media type, broken JSON):
 *   `InvalidResponseError` with the status; transient for 5xx, 408, 429 and for non-JSON 2xx answers.
 * - The body failing to arrive: `NetworkError`, `TimeoutError` or `AbortError`.
 *
 * No part of the body other than the RFC error fields ever reaches an error message.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export async function readTokenResponse(
  response: Response,
  options: ReadTokenResponseOptions,
): Promise<TokenSet> {
  const { status } = response;
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), (options.now ?? Date.now)());
  const ok = response.ok;
  const contentType = response.headers.get("content-type");
  const invalid = (what: string) =>
    new InvalidResponseError(`authorization server answered ${status} with ${what}`, {
      status,
      transient: ok || isTransientStatus(status),
      retryAfterMs,
      response,
    });

  if (!isJsonMediaType(contentType)) {
    await response.body?.cancel().catch(() => {});
    throw invalid(`${contentType?.split(";")[0]} instead of JSON`);
  }
  let textBody: string;
  try {
    textBody = await response.text();
  } catch (error) {
    throw bodyReadError(error);
  }
  if (textBody.trim() === "") throw invalid("an empty body");
  let body: unknown;
  try {
    body = JSON.parse(textBody);
  } catch {
    // Not kept as the cause: JSON.parse quotes the text it rejects, which may hold a token.
    throw invalid("a body that is not JSON");
  }

  if (isObject(body)) {
    throwIfErrorBody(body, status, {
      retryAfterMs,
      wwwAuthenticate: response.headers.get("www-authenticate") ?? undefined,
      response,
    });
  }
  if (!ok) throw invalid("no RFC 6749 error body");
  try {
    return parseTokenResponse(body, { ...options, status });
  } catch (error) {
    if (error instanceof InvalidResponseError) {
      throw new InvalidResponseError(error.message, { status, response });
    }
    throw error;
  }
}

function bodyReadError(error: unknown): Error {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "AbortError") return new AbortError(undefined, { cause: error });
  if (name === "TimeoutError")
    return new TimeoutError("reading the token answer timed out", { cause: error });
  return new NetworkError("reading the token answer failed", { cause: error });
}
