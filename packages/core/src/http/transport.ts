/**
 * What every tokenkeep client says about the transport, the same way in grants and pat-client:
 *
 * - credentials travel only over https: an `http:` URL is accepted for a loopback host (a server on the
 *   same machine, as in tests and local development) or when the user opted in with
 *   `allowInsecureRequests` (the name oauth4webapi and openid-client use);
 * - an endpoint is named by origin and path only, never a query string, fragment or credentials;
 * - a request that got no answer is described by the runtime's code (`ECONNREFUSED`, `ENOTFOUND`, a
 *   TLS code), never by the runtime's message, which may quote a URL with its query string.
 */

/**
 * True when `url` may carry credentials: https, or http to a loopback host (`localhost`, any address of
 * 127.0.0.0/8 - the URL parser has already normalized forms such as `127.1` - or `::1`), or any http
 * when allowed. An invalid URL passes: the URL rule reports it.
 */
export function isSecureEnough(url: string | URL, allowInsecureRequests: boolean): boolean {
  const parsed = URL.parse(String(url));
  return (
    parsed?.protocol !== "http:" ||
    allowInsecureRequests ||
    /^(localhost|\[::1\]|127\.\d+\.\d+\.\d+)$/i.test(parsed.hostname)
  );
}

/** What an option holding an http URL to a host that is not loopback is told. */
export const INSECURE_URL_MESSAGE =
  "expected https (http only to localhost, 127.0.0.0/8 or ::1, or with allowInsecureRequests: true)";

/** An endpoint as errors name it: origin and path, never a query string, fragment or credentials. */
export function endpointOf(url: string): string {
  const parsed = URL.parse(url);
  return parsed ? `${parsed.origin}${parsed.pathname}` : "the server";
}

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
