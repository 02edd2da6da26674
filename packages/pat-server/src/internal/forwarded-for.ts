/**
 * The client address a reverse proxy in front of us saw: the **last** entry of `X-Forwarded-For`.
 * Every earlier entry arrived from the client and can be anything it likes, so keying the rate limit on
 * the first one would let a client pick a fresh bucket for every request.
 */
export function lastForwardedFor(header: string | null): string | undefined {
  if (header === null) return undefined;
  const entries = header.split(",");
  return entries[entries.length - 1]!.trim() || undefined;
}
