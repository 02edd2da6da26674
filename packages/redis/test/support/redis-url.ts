/**
 * The Redis the tests use: `TOKENKEEP_REDIS_URL`, set by `eval "$(bash scripts/services/redis.sh start)"`.
 * Without it the Redis tests skip with a printed reason, except on CI (`CI` set), where a missing
 * Redis is a failure.
 */
export function redisUrlOrSkip(file: string): string | undefined {
  const url = process.env.TOKENKEEP_REDIS_URL;
  if (url) return url;
  const how = 'start one with: eval "$(bash scripts/services/redis.sh start)"';
  if (process.env.CI) {
    throw new Error(`TOKENKEEP_REDIS_URL is not set on CI; ${how}`);
  }
  console.warn(`[${file}] skipped: TOKENKEEP_REDIS_URL is not set; ${how}`);
  return undefined;
}

/** A fresh key prefix per test, so tests sharing one Redis never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `tktest:${label}:${crypto.randomUUID().slice(0, 8)}:`;
}
