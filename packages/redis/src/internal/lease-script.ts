/**
 * Deletes a lease only while it still holds the caller's owner value, atomically, so a holder that
 * overran its lease cannot remove the lease another instance took since.
 * KEYS[1] = lease key, ARGV[1] = owner value. Returns 1 when it deleted the lease, 0 otherwise.
 */
export const RELEASE_SCRIPT = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;
