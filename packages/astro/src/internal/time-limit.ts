/**
 * Time limits whose timer ends with what they bound. `AbortSignal.timeout(ms)` keeps its timer alive
 * for the whole `ms` after the work settled (the bench measured that at as much CPU per call as the
 * rest of the API client); a limit armed here is cleared by its caller (`clearTimeout`) as soon as the
 * work it bounds has settled, and aborts with the same reason `AbortSignal.timeout` would, so error
 * mapping that looks for a `TimeoutError` holds.
 */

/** What a limit aborts with: the runtime's `TimeoutError`, as `AbortSignal.timeout` does. */
export const timeoutReason = (): DOMException =>
  new DOMException("The operation was aborted due to timeout", "TimeoutError");

/**
 * Starts the timer of a limit: `controller` is aborted with {@link timeoutReason} after `ms`. Clear
 * the returned timer once what it bounds has settled (the answer's body read included).
 */
export const armLimit = (controller: AbortController, ms: number): ReturnType<typeof setTimeout> =>
  setTimeout(() => controller.abort(timeoutReason()), ms);
