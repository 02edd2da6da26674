/**
 * Where a session lives: sealed in the session cookie (the default), or sealed in Astro's server-side
 * session (`storage: "session"`, the `session.driver` of the Astro config), where the browser holds
 * only Astro's session id. Either way the stored value is sealed, so a cookie jar, a session store's
 * files or a log shows no token.
 */
import type { APIContext } from "astro";
import type { CookieSealer } from "./cookie-seal.js";
import { decodeSession, encodeSession, type Session } from "./session.js";
import {
  clearSessionCookie,
  hasSessionCookie,
  readSessionCookie,
  type SessionCookieContext,
  writeSessionCookie,
} from "./session-cookies.js";

/** The key of the session in Astro's session. */
export const ASTRO_SESSION_KEY = "tokenkeep";

/** What {@link SessionStorage.read} finds. */
export interface StoredSession {
  readonly session: Session | undefined;
  /** Something is stored that can never be read (tampered with, an old key). */
  readonly unreadable: boolean;
}

/** Reads and writes one request's session. */
export interface SessionStorage {
  /** The session; synchronous when it needs no unsealing (a returning session in the cookie). */
  read(): StoredSession | Promise<StoredSession>;
  write(session: Session): Promise<void>;
  clear(): void;
  /**
   * Called before a sign-in writes: a storage keyed by an id the browser already holds gives it a
   * new one, so an id planted before sign-in (session fixation) never carries the new session.
   */
  beginSession?(): Promise<void>;
  /** Called at sign-out after `clear`: that id is ended too. */
  endSession?(): void;
}

/** The session sealed in the session cookie (chunked when large). */
export function cookieStorage(context: SessionCookieContext): SessionStorage {
  return {
    read() {
      const session = readSessionCookie(context);
      return session instanceof Promise
        ? session.then((read) => storedCookie(context, read))
        : storedCookie(context, session);
    },
    write: (session) => writeSessionCookie(context, session),
    clear: () => clearSessionCookie(context),
  };
}

function storedCookie(context: SessionCookieContext, session: Session | undefined): StoredSession {
  return { session, unreadable: session === undefined && hasSessionCookie(context) };
}

/** The error when `storage: "session"` meets a site without Astro sessions. */
export class MissingAstroSessionError extends Error {
  override name = "MissingAstroSessionError";
  readonly code = "ERR_TOKENKEEP_NO_ASTRO_SESSION";
  constructor() {
    super(
      '@tokenkeep/astro: storage "session" needs Astro sessions: configure `session.driver` in the Astro ' +
        "config (the Node adapter provides one by default unless `session: false`).",
    );
  }
}

/** The session sealed in Astro's server-side session; the browser holds only Astro's session id. */
export function astroSessionStorage(
  context: Pick<APIContext, "session">,
  sealer: CookieSealer,
): SessionStorage {
  const session = context.session;
  if (session === undefined) throw new MissingAstroSessionError();
  return {
    async read() {
      const value: unknown = await session.get(ASTRO_SESSION_KEY);
      if (value === undefined || value === null) return { session: undefined, unreadable: false };
      const text = typeof value === "string" ? await sealer.unseal(value) : undefined;
      const decoded = text === undefined ? undefined : decodeSession(text);
      return { session: decoded, unreadable: decoded === undefined };
    },
    async write(next) {
      session.set(ASTRO_SESSION_KEY, await sealer.seal(encodeSession(next)));
    },
    clear: () => session.delete(ASTRO_SESSION_KEY),
    beginSession: () => session.regenerate(),
    endSession: () => session.destroy(),
  };
}
