/**
 * The PAT and the JWT travel only over https: an `http:` endpoint is accepted for a loopback host (a
 * server on the same machine, as in tests and local development) or when the user opted in with
 * `allowInsecureRequests` (the name @tokenkeep/grants, oauth4webapi and openid-client use).
 */

/** True for `localhost`, any address of 127.0.0.0/8, and `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host === "[::1]") return true;
  // The URL parser has already normalized IPv4 forms such as `127.1` to four decimal parts.
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** True when `url` may carry credentials: https, or http to a loopback host, or any http when allowed. */
export function isSecureEnough(url: string, allowInsecureRequests: boolean): boolean {
  const parsed = URL.parse(url);
  if (parsed === null || parsed.protocol !== "http:") return true; // the URL rule reports the rest
  return allowInsecureRequests || isLoopbackHost(parsed.hostname);
}

/** Why an insecure endpoint is refused, for the options error. */
export const INSECURE_ENDPOINT_MESSAGE =
  "Expected an https URL (http is accepted only for localhost, 127.0.0.0/8 and ::1; pass allowInsecureRequests: true to send the PAT in clear text anyway)";
