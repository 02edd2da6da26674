import type { JsonValue } from "./token-set.js";

/**
 * A successful token answer on the wire (RFC 6749 section 5.1). `expires_in` may be a number or a
 * numeric string; unknown fields are allowed and kept in `TokenSet.raw`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export interface TokenResponse {
  access_token: string;
  /** Defaults to `Bearer`; compared case-insensitively. */
  token_type?: string | undefined;
  expires_in?: number | string | undefined;
  refresh_token?: string | undefined;
  scope?: string | undefined;
  id_token?: string | undefined;
  refresh_token_expires_in?: number | string | undefined;
  /** A server's hint to refresh after this many seconds. */
  refresh_in?: number | string | undefined;
  [field: string]: JsonValue | undefined;
}
