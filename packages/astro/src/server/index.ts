/**
 * @packageDocumentation
 * `@tokenkeep/astro/server`: server-side access to the current request's session from any code the
 * request runs (pages, endpoints, library code), without passing Astro's context around.
 */
import type { ApiClient } from "../api/client.js";
import { bindApiClient } from "../api/client.js";
import { ApiError } from "../api/errors.js";
import { createStats, type TokenkeepStats } from "../events.js";
import type { TokenkeepLocals } from "../locals.js";
import { activeMiddleware } from "../middleware/handler.js";
import { currentRequest } from "../request-context.js";

export type {
  ApiClient,
  ApiErrorState,
  ApiInterceptors,
  ApiRequestOptions,
  ApiRequestState,
  ApiResponse,
  ApiResponseState,
  ApiResponseType,
} from "../api/client.js";
export {
  ApiError,
  type ApiErrorCode,
  ApiHttpError,
  ApiSchemaError,
  type ApiSchemaIssue,
  isApiError,
  isApiHttpError,
  isApiSchemaError,
  isSessionExpiredError,
  SessionExpiredError,
} from "../api/errors.js";
export type { StandardSchema } from "../api/standard-schema.js";
export type { TokenkeepEvent, TokenkeepEventType, TokenkeepStats } from "../events.js";
export type { SignInResult, SignOutResult, TokenkeepLocals } from "../locals.js";
export { safeReturnTo } from "../route-protection.js";
export { isSessionTooLarge, SessionTooLargeError } from "../session-cookies.js";
export {
  isSignInError,
  isSignOutError,
  SignInError,
  type SignInErrorCode,
  SignOutError,
  type SignOutErrorCode,
} from "../sign-in-error.js";

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
export function getAccessToken(): Promise<string | undefined> {
  // The locals' own promise, not one more around it: a page awaiting it resolves a step sooner.
  const request = currentRequest();
  return request === undefined ? Promise.resolve(undefined) : request.locals.getAccessToken();
}

/**
 * This process's counters (`rotations`, `successorHits`, `lateRequests`, `refreshFailures`,
 * `invalidationsRefused`), for a health page.
 */
export function stats(): TokenkeepStats {
  return activeMiddleware()?.stats() ?? createStats();
}

function activeApi(): ApiClient {
  const client = activeMiddleware()?.api;
  if (client === undefined) {
    throw new ApiError(
      "ERR_TOKENKEEP_API_NOT_READY",
      "@tokenkeep/astro: `api` was used before the middleware loaded (call it while a request is handled)",
    );
  }
  return client;
}

/**
 * The API client for the request being handled (the same as `locals.api`): its session's
 * `Authorization` goes to the configured API origins only. Usable from any server code a request
 * runs, through the middleware's `AsyncLocalStorage`; outside a request it sends no token.
 *
 * @example
 * ```ts
 * import { api } from "@tokenkeep/astro/server";
 * const { data } = await api.get<{ name: string }>("/me");
 * ```
 */
export const api: ApiClient = bindApiClient(
  (session, url, options) => {
    void session;
    return activeApi().request(url, options);
  },
  () => undefined,
);
