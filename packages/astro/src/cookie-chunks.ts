/**
 * Cookie chunking: a browser keeps at most ~4096 bytes per cookie (name, value and attributes), so a
 * value longer than {@link CHUNK_SIZE} is split into numbered cookies `<name>.0`, `<name>.1`, ... and
 * joined on read. Writing a shorter value deletes the chunks the request still carried, so a session
 * that shrank never leaves a stale tail behind.
 */

/** The longest value kept in one cookie: below 4096 bytes with room for the name and attributes. */
export const CHUNK_SIZE = 3800;

/** The part of Astro's `AstroCookies` this module uses. */
export interface CookieJar {
  get(name: string): { readonly value: string } | undefined;
  has(name: string): boolean;
  set(name: string, value: string, options?: CookieOptions): void;
  delete(
    name: string,
    options?: Pick<CookieOptions, "domain" | "path" | "secure" | "httpOnly" | "sameSite">,
  ): void;
}

/** Cookie attributes, as Astro's `cookies.set` takes them. */
export interface CookieOptions {
  readonly httpOnly?: boolean;
  readonly secure?: boolean;
  readonly sameSite?: "lax" | "strict" | "none";
  readonly path?: string;
  readonly domain?: string;
  readonly maxAge?: number;
  /** Astro URI-encodes values by default; ours are base64url already. */
  readonly encode?: (value: string) => string;
}

/** The name of chunk `index` of cookie `name`. */
export const chunkName = (name: string, index: number): string => `${name}.${index}`;

/** Splits a value into pieces of at most `size` characters (one piece when it fits). */
export function splitValue(value: string, size: number = CHUNK_SIZE): string[] {
  if (value.length <= size) return [value];
  const pieces: string[] = [];
  for (let start = 0; start < value.length; start += size) pieces.push(value.slice(start, start + size));
  return pieces;
}

/** How many consecutive chunks (`<name>.0` ...) the jar holds. */
export function countChunks(jar: CookieJar, name: string): number {
  let count = 0;
  while (jar.has(chunkName(name, count))) count++;
  return count;
}

/** The value of `name`, whole or joined from its chunks; `undefined` when absent. */
export function readChunked(jar: CookieJar, name: string): string | undefined {
  const whole = jar.get(name)?.value;
  if (whole !== undefined && whole !== "") return whole;
  const count = countChunks(jar, name);
  if (count === 0) return undefined;
  let joined = "";
  for (let index = 0; index < count; index++) joined += jar.get(chunkName(name, index))?.value ?? "";
  return joined;
}

/**
 * Writes `value` under `name` (chunked when long) and deletes whatever the request carried that the
 * new value does not use: the whole cookie when it is now chunked, surplus chunks when it shrank.
 */
export function writeChunked(
  jar: CookieJar,
  name: string,
  value: string,
  options: CookieOptions,
  size: number = CHUNK_SIZE,
): void {
  const existing = countChunks(jar, name);
  const hadWhole = jar.has(name);
  const pieces = splitValue(value, size);
  const removal = deletionOptions(options);
  if (pieces.length === 1) {
    jar.set(name, value, options);
    for (let index = 0; index < existing; index++) jar.delete(chunkName(name, index), removal);
    return;
  }
  if (hadWhole) jar.delete(name, removal);
  for (const [index, piece] of pieces.entries()) jar.set(chunkName(name, index), piece, options);
  for (let index = pieces.length; index < existing; index++) jar.delete(chunkName(name, index), removal);
}

/** Deletes `name` and every chunk of it the request carried. */
export function deleteChunked(jar: CookieJar, name: string, options: CookieOptions): void {
  const existing = countChunks(jar, name);
  const removal = deletionOptions(options);
  if (jar.has(name)) jar.delete(name, removal);
  for (let index = 0; index < existing; index++) jar.delete(chunkName(name, index), removal);
}

/** A deletion must repeat the cookie's path, domain and (for `__Host-`) `Secure` to reach it. */
function deletionOptions(options: CookieOptions) {
  const { domain, path, secure, httpOnly, sameSite } = options;
  return {
    path,
    ...(domain === undefined ? {} : { domain }),
    ...(secure === undefined ? {} : { secure }),
    ...(httpOnly === undefined ? {} : { httpOnly }),
    ...(sameSite === undefined ? {} : { sameSite }),
  };
}
