/**
 * Credentials travel only over https: an `http:` URL is accepted for a loopback host (a server on the
 * same machine, as in tests and local development) or when the user opted in with
 * `allowInsecureRequests`. The option's name is the one oauth4webapi and openid-client use.
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

/** The problem line of an option holding an http URL to a host that is not loopback. */
export const insecureUrlProblem = (name: string): string =>
  `${name}: expected https (http only to localhost, 127.0.0.0/8 or ::1, or with allowInsecureRequests: true)`;
