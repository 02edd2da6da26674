/**
 * Credentials travel only over https (see `isSecureEnough` in `@tokenkeep/core/http`, shared with
 * pat-client so both refuse and word it alike).
 */
import { INSECURE_URL_MESSAGE } from "@tokenkeep/core/http";

export { INSECURE_URL_MESSAGE, isSecureEnough } from "@tokenkeep/core/http";

/** The problem line of an option holding an http URL to a host that is not loopback. */
export const insecureUrlProblem = (name: string): string => `${name}: ${INSECURE_URL_MESSAGE}`;

/**
 * What a URL option holding a user name or password (`https://svc:pw@auth.example`) is told: never
 * the URL, which `fetch` would refuse anyway and every error message would otherwise quote.
 */
export const CREDENTIALS_IN_URL_MESSAGE = "credentials in the URL are not allowed: use clientId/clientSecret";

/** Whether `url` holds a user name or password. */
export const hasCredentials = (url: unknown): boolean => {
  const parsed = URL.parse(String(url));
  return !!(parsed?.username || parsed?.password);
};
