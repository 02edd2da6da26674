/**
 * @packageDocumentation
 * `@tokenkeep/astro/server`: server-side access to the current request's session from any code the
 * request runs (pages, endpoints, library code), without passing Astro's context around.
 */
import type { TokenkeepStats } from "../events.js";
import type { TokenkeepLocals } from "../locals.js";
import { activeMiddleware } from "../middleware/handler.js";
import { currentRequest } from "../request-context.js";

export type { TokenkeepEvent, TokenkeepEventType, TokenkeepStats } from "../events.js";
export type { TokenkeepLocals } from "../locals.js";
export { safeReturnTo } from "../route-protection.js";

/**
 * The session state of the request being handled (`locals.tokenkeep`), or `undefined` outside a
 * request (or on a prerendered page).
 */
export function getTokenkeep(): TokenkeepLocals | undefined {
  return currentRequest()?.locals;
}

/**
 * The current request's access token while it is valid; `undefined` when signed out or outside a
 * request. Secret: never log it.
 */
export async function getAccessToken(): Promise<string | undefined> {
  return currentRequest()?.locals.getAccessToken();
}

/** This process's counters (`rotations`, `successorHits`, `lateRequests`, `refreshFailures`), for a health page. */
export function stats(): TokenkeepStats {
  return (
    activeMiddleware()?.stats() ?? { rotations: 0, successorHits: 0, lateRequests: 0, refreshFailures: 0 }
  );
}
