import type { RequestParams } from "./body-encoding.js";

/**
 * How the client proves its identity to the authorization server.
 *
 * - `client_secret_basic`: HTTP Basic with the form-url-encoded id and secret (RFC 6749 section 2.3.1).
 * - `client_secret_post`: `client_id` and `client_secret` in the request body.
 * - `none`: a public client; `client_id` is sent in the body when one is configured.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export type ClientAuthentication = "client_secret_basic" | "client_secret_post" | "none";

/** The client credentials, as validated by a creator's options. */
export interface ClientCredentials {
  /** The client identifier. */
  readonly clientId?: string | undefined;
  /** The client secret. Secret. */
  readonly clientSecret?: string | undefined;
  /** How the credentials are sent. */
  readonly clientAuthentication: ClientAuthentication;
}

/**
 * Encodes one value with the `application/x-www-form-urlencoded` algorithm (space becomes `+`,
 * everything but `*-._` and alphanumerics is percent-encoded), as RFC 6749 appendix B asks for the
 * parts of a Basic credential.
 */
function formUrlEncode(value: string): string {
  return new URLSearchParams([["", value]]).toString().slice(1);
}

/**
 * The `Authorization` header value for `client_secret_basic`: the id and secret are each
 * form-url-encoded before being joined with `:` and Base64-encoded, so a secret containing `:`, `%`,
 * `+` or non-ASCII characters survives a conforming server's decoding.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${btoa(`${formUrlEncode(clientId)}:${formUrlEncode(clientSecret)}`)}`;
}

/**
 * Adds the client's credentials to a token, revocation or introspection request: an `authorization`
 * header for `client_secret_basic`, body parameters for `client_secret_post`, or only `client_id` for
 * `none`. Mutates and returns nothing; the options were validated when the creator was made.
 */
export function applyClientAuthentication(
  credentials: ClientCredentials,
  params: RequestParams,
  headers: Record<string, string>,
): void {
  const { clientId, clientSecret, clientAuthentication } = credentials;
  if (clientAuthentication === "client_secret_basic") {
    headers.authorization = basicAuthorization(clientId ?? "", clientSecret ?? "");
    return;
  }
  if (clientId !== undefined) params.client_id = clientId;
  if (clientAuthentication === "client_secret_post" && clientSecret !== undefined) {
    params.client_secret = clientSecret;
  }
}
