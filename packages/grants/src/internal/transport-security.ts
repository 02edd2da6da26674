/**
 * Credentials travel only over https: an `http:` URL is accepted for a loopback host (a server on the
 * same machine, as in tests and local development) or when the user opted in with
 * `allowInsecureRequests`. The option's name is the one oauth4webapi and openid-client use.
 */

/** True for `localhost`, any address of 127.0.0.0/8, and `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host === "[::1]") return true;
  // The URL parser has already normalized IPv4 forms such as `127.1` to four decimal parts.
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** True when `url` may carry credentials: https, or http to a loopback host, or any http when allowed. */
export function isSecureEnough(url: string | URL, allowInsecureRequests: boolean): boolean {
  const parsed = URL.parse(String(url));
  if (parsed === null) return true; // an invalid URL is reported by the URL rule, not here
  if (parsed.protocol !== "http:") return true;
  return allowInsecureRequests || isLoopbackHost(parsed.hostname);
}

/** The problem line of an option holding an http URL to a host that is not loopback. */
export function insecureUrlProblem(name: string): string {
  return `${name}: expected an https URL (http is accepted only for localhost, 127.0.0.0/8 and ::1; pass allowInsecureRequests: true to send credentials in clear text anyway)`;
}
