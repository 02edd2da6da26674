/**
 * The sessions a process decoded, by the sealed value that carried them: a returning session's next
 * request finds its session with one map lookup, with no unsealing and no parsing (the unseal
 * cache, `withUnsealCache`, still saves the decryption for what this cache does not keep).
 *
 * Only sessions whose `sessionPayload` is absent or a primitive are kept: a payload object is handed
 * to the page (`locals.tokenkeep.sessionPayload`), and one page changing it must not change what the
 * session's next request sees, so such sessions are decoded afresh for each request. A kept session is
 * frozen. Keys are whole sealed values, which carry a random IV, so only a value that unsealed (and
 * decoded) before can hit; the oldest entry is dropped beyond `maxEntries`.
 */
import type { Session } from "./session.js";

/** Decoded sessions by sealed value. */
export interface SessionCache {
  /** The session `value` carried when it was last decoded, if kept. */
  get(value: string): Session | undefined;
  /** Keeps `session` for `value` when it may be shared between requests (see the module comment). */
  remember(value: string, session: Session): void;
}

/** A cache of at most `maxEntries` sessions (the oldest dropped first). */
export function createSessionCache(maxEntries: number): SessionCache {
  const sessions = new Map<string, Session>();
  return {
    get: (value) => sessions.get(value),
    remember(value, session) {
      const payload = session.sessionPayload;
      if (typeof payload === "object" && payload !== null) return;
      sessions.set(value, Object.freeze(session));
      if (sessions.size > maxEntries) sessions.delete(sessions.keys().next().value as string);
    },
  };
}
