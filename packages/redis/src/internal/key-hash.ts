import { createHash } from "node:crypto";

/**
 * The Redis key for a store key: the prefix, a namespace letter (`v` for values, `l` for leases) and
 * the SHA-256 of the store key in base64url. Whatever a caller puts in a store key, Redis only ever
 * sees a hash of it.
 */
export function redisKey(prefix: string, namespace: "v" | "l", key: string): string {
  return `${prefix}${namespace}:${createHash("sha256").update(key).digest("base64url")}`;
}
