/** The `code` of {@link PatStoreUnavailableError}. */
export const PAT_STORE_UNAVAILABLE = "ERR_PAT_STORE_UNAVAILABLE";

/**
 * Thrown by a {@link PatStore} when its database did not answer: unreachable, restarting, too slow
 * (a connect or query timeout), or the connection broke mid-call. The handler answers such a failure
 * with 503 and `Retry-After` (a client should retry later) instead of a 500; a store of your own may
 * throw it too. `cause` is the driver's error, which names the failure (never a stored value).
 */
export class PatStoreUnavailableError extends Error {
  override readonly name = "PatStoreUnavailableError";
  readonly code = PAT_STORE_UNAVAILABLE;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * True for a {@link PatStoreUnavailableError}, also one from another copy of this package (checked by
 * `name` and `code`).
 */
export function isPatStoreUnavailableError(error: unknown): error is PatStoreUnavailableError {
  return (
    error instanceof Error &&
    error.name === "PatStoreUnavailableError" &&
    (error as { code?: unknown }).code === PAT_STORE_UNAVAILABLE
  );
}
