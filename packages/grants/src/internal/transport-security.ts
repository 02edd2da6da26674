/**
 * Credentials travel only over https (see `isSecureEnough` in `@tokenkeep/core/http`, shared with
 * pat-client so both refuse and word it alike).
 */
import { INSECURE_URL_MESSAGE } from "@tokenkeep/core/http";

export { INSECURE_URL_MESSAGE, isSecureEnough } from "@tokenkeep/core/http";

/** The problem line of an option holding an http URL to a host that is not loopback. */
export const insecureUrlProblem = (name: string): string => `${name}: ${INSECURE_URL_MESSAGE}`;
