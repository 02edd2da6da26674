import { createHash } from "node:crypto";

/**
 * The Redis key for a store key: the prefix, a namespace letter (`v` for values, `l` for leases) and
 * the SHA-256 of the store key in base64url. Whatever a caller puts in a store key, Redis only ever
 * sees a hash of it.
 */
export function redisKey(prefix: string, namespace: "v" | "l", key: string): string {
  return `${prefix}${namespace}:${createHash("sha256").update(key).digest("base64url")}`;
}

/**
 * The key a replica check deletes (a write a replica refuses). It is no entry's key, whatever the
 * caller's store key: it sits in the leases' namespace (so an ACL written for `<prefix>l:*` allows it)
 * but where a lease has a SHA-256 in base64url, it has `!`, which base64url never holds. It holds
 * nothing: no instance ever writes it.
 */
export function replicaCheckKey(prefix: string): string {
  return `${prefix}l:!replica-check`;
}
