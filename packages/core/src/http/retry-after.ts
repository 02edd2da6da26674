/**
 * Reads an HTTP `Retry-After` header: either a number of seconds or an HTTP date. Returns the wait in
 * milliseconds (never negative), or `undefined` when the header is absent or unreadable.
 *
 * Not bounded here: a date may be years away, and the error that carries it (`retryAfterMs`) tells
 * the caller what the server asked. The token manager bounds what it does with it (it waits inline
 * only up to `retry.maxDelayMs`, holds callers off for at most `maxThrottleMs`, and retries in the
 * background no later than the token's end); the rotation coordinator holds a refused token back
 * for it, at most its own `maxThrottleMs`. Bound it
 * before waiting on it yourself: `setTimeout` fires at once for a delay above 2^31 - 1 ms.
 *
 * @param value - The header value (`response.headers.get("retry-after")`).
 * @param now - The current time in epoch ms, used to turn a date into a wait.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date always names a day and a month; this keeps `Date.parse` from reading "-1" as a year.
  const at = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
