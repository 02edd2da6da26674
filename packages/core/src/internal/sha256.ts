/**
 * The one SHA-256 helper: what every store key is made of (identities, refresh tokens), so a shared
 * store never holds a client id, a subject or a token in clear. Web Crypto, so it runs everywhere.
 */

/** SHA-256 of `text` (UTF-8), as lowercase hex. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
