import { base64url } from "jose";

const encoder = new TextEncoder();

/**
 * The `sv` ("secret version") claim of the JWTs the exchange signs: the first 12 bytes of SHA-256 of
 * the token's stored PHC string, base64url. It names the secret a JWT was exchanged for without saying
 * anything about it (the PHC is itself a salted hash), so the admin routes' recheck can refuse the JWT
 * of a token whose secret was replaced since, as it refuses one revoked since.
 */
export async function secretVersion(secretPhc: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(secretPhc)));
  return base64url.encode(digest.subarray(0, 12));
}
