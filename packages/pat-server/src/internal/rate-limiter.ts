/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Requests allowed per key per window (the bucket's size). */
  readonly maxRequests: number;
  /** Window length in milliseconds; the bucket refills `maxRequests` tokens over it. */
  readonly windowMs: number;
  /** Keys remembered before the least recently used is dropped. */
  readonly maxKeys: number;
  /** Clock in epoch milliseconds. */
  readonly now: () => number;
}

/** Outcome of {@link RateLimiter.take}. */
export type RateLimitDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

/** A token bucket per key (client address). */
export interface RateLimiter {
  take(key: string): RateLimitDecision;
}

/** Creates an in-memory token-bucket rate limiter. Buckets are per instance, not shared. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { maxRequests, windowMs, maxKeys, now } = options;
  const refillPerMs = maxRequests / windowMs;
  const buckets = new Map<string, { tokens: number; updatedAt: number }>();
  return {
    take(key) {
      const time = now();
      const bucket = buckets.get(key) ?? { tokens: maxRequests, updatedAt: time };
      buckets.delete(key);
      bucket.tokens = Math.min(maxRequests, bucket.tokens + (time - bucket.updatedAt) * refillPerMs);
      bucket.updatedAt = time;
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true };
      }
      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000)),
      };
    },
  };
}
