/**
 * Deletes a lease only while it still holds the caller's owner value, atomically, so a holder that
 * overran its lease cannot remove the lease another instance took since.
 * KEYS[1] = lease key, ARGV[1] = owner value. Returns 1 when it deleted the lease, 0 otherwise.
 */
export const RELEASE_SCRIPT = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;

/**
 * Extends a lease to ARGV[2] ms from now, only while it still holds the caller's owner value.
 * KEYS[1] = lease key, ARGV[1] = owner value, ARGV[2] = ttl in ms. Returns 1 when renewed, 0 when lost.
 */
export const RENEW_SCRIPT = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`;

/**
 * Deletes a value only while it still holds exactly the bytes the caller read, atomically, so an
 * instance never deletes a newer value another instance wrote since.
 * KEYS[1] = value key, ARGV[1] = the stored payload as read. Returns 1 when deleted, 0 otherwise.
 */
export const COMPARE_AND_DELETE_SCRIPT = RELEASE_SCRIPT;

/**
 * Replaces a value only while it still holds exactly the bytes the caller read, atomically, so an
 * instance never overwrites a newer value another instance wrote since.
 * KEYS[1] = value key, ARGV[1] = the stored payload as read, ARGV[2] = the new payload, ARGV[3] =
 * its ttl in ms. Returns 1 when written, 0 otherwise.
 */
export const COMPARE_AND_SET_SCRIPT = `if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3]) return 1 else return 0 end`;
