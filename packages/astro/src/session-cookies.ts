/**
 * Reads and writes the session cookie: sealed, chunked, with the flags decided per request.
 *
 * `Secure` comes from the request's protocol as Astro sees it (`context.url`, which honours
 * `X-Forwarded-Proto` only from the proxies `security.allowedDomains` trusts), never from `NODE_ENV`.
 * A secure cookie without a `domain` takes the `__Host-` prefix (the browser then refuses it from
 * http or with a `Domain`), one with a `domain` the `__Secure-` prefix.
 */
import { isTokenkeepError, TokenkeepError } from "@tokenkeep/core";
import {
  type CookieJar,
  type CookieOptions,
  deleteChunked,
  readChunked,
  writeChunked,
} from "./cookie-chunks.js";
import type { CookieSealer } from "./cookie-seal.js";
import { decodeSession, encodeSession, type Session } from "./session.js";
import type { SessionCache } from "./session-cache.js";

/** The cookie settings after validation. */
export interface SessionCookieSettings {
  /** The name without prefix. */
  readonly name: string;
  /** `Domain`, when the cookie is shared with subdomains (no `__Host-` prefix then). */
  readonly domain: string | undefined;
  /** `Max-Age` in seconds when the refresh token's lifetime is unknown. */
  readonly maxAgeS: number;
  /** The longest sealed value written, over all chunks (`cookie.maxBytes`); `undefined`: no limit. */
  readonly maxBytes?: number | undefined;
}

/** The code of {@link SessionTooLargeError}. */
export const SESSION_TOO_LARGE = "ERR_TOKENKEEP_SESSION_TOO_LARGE";

/**
 * A session whose sealed value is longer than `cookie.maxBytes`: it is not written (browsers and
 * proxies would refuse the request headers that carry it, locking the user out of the whole site).
 */
export class SessionTooLargeError extends TokenkeepError {
  override name = "SessionTooLargeError";
  /** The sealed value's length in bytes. */
  readonly bytes: number;
  /** The limit it is over (`cookie.maxBytes`). */
  readonly maxBytes: number;
  constructor(bytes: number, maxBytes: number) {
    super(
      SESSION_TOO_LARGE,
      `@tokenkeep/astro: the sealed session is ${bytes} bytes, over cookie.maxBytes (${maxBytes}); ` +
        'browsers and proxies refuse request headers that long. Keep it server-side with storage: "session" ' +
        "(Astro's session driver), or make the session payload smaller",
    );
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/** The name and attributes of the session cookie over https or plain http. */
interface SessionCookieFlags {
  readonly name: string;
  readonly options: CookieOptions;
}

/** Flags already built, per settings object (validated once, then shared by every request). */
const builtFlags = new WeakMap<
  SessionCookieSettings,
  { plain?: SessionCookieFlags; secure?: SessionCookieFlags }
>();

/** Values are base64url (and dots): nothing to escape. */
const asIs = (value: string) => value;

/** The name and attributes the session cookie gets on a request over `secure` or plain http (frozen, built once per settings object). */
export function sessionCookieFlags(settings: SessionCookieSettings, secure: boolean): SessionCookieFlags {
  let known = builtFlags.get(settings);
  if (known === undefined) {
    known = {};
    builtFlags.set(settings, known);
  }
  const built = secure ? known.secure : known.plain;
  if (built !== undefined) return built;
  const prefix = !secure ? "" : settings.domain === undefined ? "__Host-" : "__Secure-";
  const flags: SessionCookieFlags = Object.freeze({
    name: prefix + settings.name,
    options: Object.freeze({
      httpOnly: true,
      sameSite: "lax" as const,
      path: "/",
      secure,
      ...(settings.domain === undefined ? {} : { domain: settings.domain }),
      encode: asIs,
    }),
  });
  if (secure) known.secure = flags;
  else known.plain = flags;
  return flags;
}

/** What one request's cookie I/O needs. */
export interface SessionCookieContext {
  readonly jar: CookieJar;
  readonly secure: boolean;
  readonly settings: SessionCookieSettings;
  readonly sealer: CookieSealer;
  readonly now: () => number;
  /** Sessions already decoded, by sealed value (the middleware keeps one per process). */
  readonly sessions?: SessionCache | undefined;
}

/**
 * The session the request's cookies carry; `undefined` when absent, tampered with or malformed.
 * Synchronous when `context.sessions` already holds the cookie's value.
 */
export function readSessionCookie(
  context: SessionCookieContext,
): Session | undefined | Promise<Session | undefined> {
  const { name } = sessionCookieFlags(context.settings, context.secure);
  const value = readChunked(context.jar, name);
  if (value === undefined) return undefined;
  return context.sessions?.get(value) ?? unsealSession(context, value);
}

async function unsealSession(context: SessionCookieContext, value: string): Promise<Session | undefined> {
  const text = await context.sealer.unseal(value);
  const session = text === undefined ? undefined : decodeSession(text);
  if (session !== undefined) context.sessions?.remember(value, session);
  return session;
}

/** Whether the request carries a session cookie at all (readable or not). */
export function hasSessionCookie(context: SessionCookieContext): boolean {
  const { name } = sessionCookieFlags(context.settings, context.secure);
  return readChunked(context.jar, name) !== undefined;
}

/** Whether `error` is a {@link SessionTooLargeError} (from any copy of this package). */
export function isSessionTooLarge(error: unknown): error is SessionTooLargeError {
  return isTokenkeepError(error) && error.code === SESSION_TOO_LARGE;
}

/**
 * Writes `session`; the cookie lives as long as the refresh token (or `maxAgeS`).
 * @throws SessionTooLargeError when the sealed value is over `settings.maxBytes` (nothing written)
 */
export async function writeSessionCookie(context: SessionCookieContext, session: Session): Promise<void> {
  const { name, options } = sessionCookieFlags(context.settings, context.secure);
  const until =
    session.refreshTokenExpiresAt ?? (session.refreshToken === undefined ? session.expiresAt : undefined);
  const maxAge =
    until === undefined ? context.settings.maxAgeS : Math.max(0, Math.floor((until - context.now()) / 1000));
  const value = await context.sealer.seal(encodeSession(session));
  const limit = context.settings.maxBytes;
  if (limit !== undefined && value.length > limit) throw new SessionTooLargeError(value.length, limit);
  writeChunked(context.jar, name, value, { ...options, maxAge });
}

/** Deletes the session cookie and its chunks, with the attributes they were set with. */
export function clearSessionCookie(context: SessionCookieContext): void {
  const { name, options } = sessionCookieFlags(context.settings, context.secure);
  deleteChunked(context.jar, name, options);
}
