import { invalidOptions } from "@tokenkeep/core/options";
import type { RequestParams } from "./body-encoding.js";

/**
 * The client authentication methods built into the main entry.
 *
 * - `client_secret_basic`: HTTP Basic with the form-url-encoded id and secret (RFC 6749 section 2.3.1).
 * - `client_secret_post`: `client_id` and `client_secret` in the request body.
 * - `none`: a public client; `client_id` is sent in the body when one is configured.
 * - `tls_client_auth`, `self_signed_tls_client_auth`: mutual TLS (RFC 8705): the client certificate
 *   of the TLS connection authenticates (give the creator a `fetch` that presents it); `client_id`
 *   is sent in the body, and the issuer's `mtls_endpoint_aliases` are used when its metadata has them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2
 */
export type ClientAuthenticationMethod =
  | "client_secret_basic"
  | "client_secret_post"
  | "none"
  | "tls_client_auth"
  | "self_signed_tls_client_auth";

/** What a {@link ClientAuthenticator} is given for one request. */
export interface ClientAuthenticationRequest {
  /** The client identifier (`iss` and `sub` of a client assertion). */
  readonly clientId: string;
  /** The URL the request is posted to (the token endpoint for a grant). */
  readonly endpoint: string;
  /** The issuer the creator was configured with, if any. */
  readonly issuer: string | undefined;
  /** The request's body parameters: add the credentials here. */
  readonly params: RequestParams;
  /** The request's headers: or here. */
  readonly headers: Record<string, string>;
  /** The creator's clock, in epoch milliseconds. */
  readonly now: () => number;
}

/**
 * A client authentication method that computes its credentials per request, such as the JWT client
 * assertions of `@tokenkeep/grants/client-assertion` (`privateKeyJwt`, `clientSecretJwt`). Kept out of
 * the main entry so a shared-secret client does not bundle a JOSE library.
 */
export interface ClientAuthenticator {
  /**
   * The method's registered name (`private_key_jwt`), used in messages. `tls_client_auth` or
   * `self_signed_tls_client_auth` also sends the requests to the issuer's `mtls_endpoint_aliases`,
   * as the named methods do (RFC 8705 section 5).
   */
  readonly method: string;
  /** Adds the credentials of one request to its parameters or headers. */
  authenticate(request: ClientAuthenticationRequest): Promise<void>;
}

/**
 * How the client proves its identity to the authorization server: one of the built-in methods, or
 * a {@link ClientAuthenticator}.
 */
export type ClientAuthentication = ClientAuthenticationMethod | ClientAuthenticator;

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
export function formUrlEncode(value: string): string {
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
 * header for `client_secret_basic`, body parameters for `client_secret_post`, only `client_id` for
 * `none` and the mutual TLS methods, or whatever a {@link ClientAuthenticator} adds. An authenticator
 * is told `request` (the endpoint, issuer and clock; its `aud` is the endpoint) and the promise it
 * returns must be awaited; without a `request` naming a non-empty `endpoint`, it is not called and the
 * promise rejects with a `TypeError` (`code: "ERR_TOKENKEEP_INVALID_OPTIONS"`). The built-in methods
 * need no `request`. Mutates `params` and `headers`; the options were validated when the creator was
 * made.
 */
export function applyClientAuthentication(
  credentials: ClientCredentials,
  params: RequestParams,
  headers: Record<string, string>,
  request?: Pick<ClientAuthenticationRequest, "endpoint" | "issuer" | "now">,
): Promise<void> | undefined {
  const method = credentials.clientAuthentication;
  // No guessed endpoint: an assertion whose `aud` is "" would be refused by the server, or worse.
  return typeof method === "object" && !request?.endpoint
    ? Promise.reject(
        invalidOptions("applyClientAuthentication", [`request.endpoint: required with ${method.method}`]),
      )
    : addCredentials(credentials, params, headers, request as AuthenticatedRequest);
}

/** What {@link addCredentials} passes on to an authenticator. */
type AuthenticatedRequest = Pick<ClientAuthenticationRequest, "endpoint" | "issuer" | "now">;

/**
 * {@link applyClientAuthentication} without its check of `request`, for the requests this package
 * sends, which always name their endpoint (internal: the shared-secret bundle does not carry the
 * check and its message).
 */
export function addCredentials(
  credentials: ClientCredentials,
  params: RequestParams,
  headers: Record<string, string>,
  request: AuthenticatedRequest,
): Promise<void> | undefined {
  const { clientId, clientSecret, clientAuthentication } = credentials;
  if (typeof clientAuthentication === "object") {
    return clientAuthentication.authenticate({ ...request, clientId: clientId ?? "", params, headers });
  }
  if (clientAuthentication === "client_secret_basic") {
    headers.authorization = basicAuthorization(clientId ?? "", clientSecret ?? "");
    return undefined;
  }
  if (clientId !== undefined) params.client_id = clientId;
  if (clientAuthentication === "client_secret_post" && clientSecret !== undefined) {
    params.client_secret = clientSecret;
  }
  return undefined;
}
