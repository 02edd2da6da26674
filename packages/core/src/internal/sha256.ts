/**
 * The one SHA-256 helper: what every store key is made of (identities, refresh tokens), so a shared
 * store never holds a client id, a subject or a token in clear. Web Crypto, so it runs everywhere.
 */

/** SHA-256 of `text` (UTF-8), as lowercase hex. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  // One flat string: appending byte by byte leaves a rope (a tree of small strings, over 1 KB) in
  // every store key built from it, kept as long as a memory store holds the key.
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
