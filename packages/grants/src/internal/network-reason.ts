/**
 * Why a request got no answer, read from the runtime's error: Node's `fetch` throws
 * `TypeError("fetch failed")` whose `cause` (or the cause's cause, or one of an `AggregateError`'s
 * errors) carries a system code such as `ECONNREFUSED`. Only the code is kept: a runtime's message
 * may quote a URL with its query string. Kept small (it is in every grant's bundle): the codes speak
 * for themselves, TLS ones are labelled as such.
 */

/** A network failure's code (`ECONNREFUSED`, `ENOTFOUND`, `CERT_HAS_EXPIRED`...), when the runtime gave one. */
export function networkReason(error: unknown): string | undefined {
  for (let value = error, depth = 0; typeof value === "object" && value !== null && depth < 6; depth++) {
    const { code, errors, cause } = value as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]+$/.test(code) && !code.startsWith("ERR_TOKENKEEP")) {
      return code;
    }
    // An AggregateError (one error per address tried): the first one speaks for all.
    value = Array.isArray(errors) && errors.length > 0 ? errors[0] : cause;
  }
  return undefined;
}

/** `ECONNREFUSED`, or `ERR_SSL_WRONG_VERSION_NUMBER (TLS failure)`: a code as a message shows it. */
export function describeReason(code: string): string {
  return /CERT|SSL|TLS|HANDSHAKE|SELF_SIGNED|ALTNAME|UNABLE_TO_(GET|VERIFY)/.test(code)
    ? `${code} (TLS failure)`
    : code;
}

/** An endpoint as errors name it: origin and path, never a query string, fragment or credentials. */
export function endpointOf(url: string): string {
  const parsed = URL.parse(url);
  return parsed ? `${parsed.origin}${parsed.pathname}` : "the server";
}
