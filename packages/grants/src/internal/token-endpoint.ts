import { InvalidResponseError, isOAuthError, OAuthError } from "@tokenkeep/core";
import { redactSecrets } from "@tokenkeep/core/http";
import { encodeBody, type RequestParams } from "../body-encoding.js";
import { addCredentials } from "../client-authentication.js";
import { lookUpMetadata } from "../discovery.js";
import type { ResolvedGrantOptions } from "../grant-options.js";
import { exchange } from "./exchange.js";
import { INSECURE_URL_MESSAGE, isSecureEnough } from "./transport-security.js";

/** Which endpoint of the server a request goes to. */
export type EndpointKind = "token_endpoint" | "revocation_endpoint" | "introspection_endpoint";

/** The endpoint's URL: the configured one, or the one the issuer's metadata names. */
export async function resolveEndpoint(
  options: ResolvedGrantOptions,
  kind: EndpointKind,
  configured: string | undefined,
  signal: AbortSignal | undefined,
): Promise<string> {
  if (configured !== undefined) return configured;
  const issuer = options.issuer as string; // options were checked: one of the two is set
  const metadata = await lookUpMetadata(issuer, options, signal);
  // RFC 8705 section 5: a client authenticating with its TLS certificate uses the mTLS aliases,
  // whether the method is named or is an authenticator object's `method`.
  const auth = options.clientAuthentication;
  const mtls = (typeof auth === "object" ? auth.method : auth).includes("tls_client_auth");
  const alias = mtls ? metadata.mtls_endpoint_aliases?.[kind] : undefined;
  const url = typeof alias === "string" ? alias : metadata[kind];
  // Credentials go where the metadata says: not in clear text either (the URL is not echoed whole).
  // An empty one names nothing: no request is built for it, no client assertion signed for it.
  const problem = !url
    ? `names no ${kind}`
    : !isSecureEnough(url, options.allowInsecureRequests) &&
      `names an http ${kind}: not sent, ${INSECURE_URL_MESSAGE}`;
  // Not transient (the error's default): asking again gets the same metadata.
  if (problem) throw new InvalidResponseError(`the metadata of ${issuer} ${problem}`);
  return url as string;
}

/** Names of request parameters whose values are credentials (`client_secret`, `subject_token`...). */
const SECRET_PARAM = /secret|password|token$|assertion$/;

/**
 * Some servers echo what they refused (Spring Security OAuth: `Invalid refresh token: <token>`).
 * An `OAuthError` is rebuilt with `[redacted]` wherever its text fields hold one of `secrets`, clear
 * or encoded (`redactSecrets` of `@tokenkeep/core/http`, shared with pat-client).
 */
function withoutEchoedSecrets(error: unknown, secrets: readonly string[]): unknown {
  if (!isOAuthError(error)) return error;
  const redact = (field: string | undefined) => field && redactSecrets(field, secrets);
  // Rebuilt rather than edited: the message (and the stack that copied it) are made from these fields.
  return new OAuthError({
    ...error,
    errorDescription: redact(error.errorDescription),
    errorUri: redact(error.errorUri),
    wwwAuthenticate: redact(error.wwwAuthenticate),
    response: error.response,
  });
}

/**
 * Sends one request to an endpoint of the authorization server: client authentication applied,
 * parameters encoded, extra parameters (under the ones the grant sets) and headers added, within the
 * timeout and the caller's signal.
 * A credential the server echoes in its error answer is redacted from the `OAuthError`.
 *
 * A DPoP nonce challenge (RFC 9449 section 8: 400 `use_dpop_nonce` with the `DPoP-Nonce` to use; the
 * DPoP `fetch` has remembered it) is answered here, once, with the request built again: a client
 * assertion is single-use (the server has spent its `jti`), so the resend is signed afresh, and
 * `rebuild` gives the grant's parameters anew (a JWT bearer `assertion` function signs a new one).
 * Without a `DPoP-Nonce` the resend would carry the same proof and fail alike, after presenting the
 * grant (a refresh token) a second time: the error is thrown as it is.
 */
export const postToEndpoint = <T>(
  url: string,
  params: RequestParams,
  options: ResolvedGrantOptions,
  signal: AbortSignal | undefined,
  what: string,
  read: (response: Response) => Promise<T>,
  rebuild?: () => Promise<RequestParams>,
): Promise<T> =>
  post(url, params, options, signal, what, read).catch(async (error: unknown) => {
    const { error: code, response } = (error ?? {}) as Partial<OAuthError>;
    if (code !== "use_dpop_nonce" || !response?.headers.has("dpop-nonce")) throw error;
    return post(url, rebuild ? await rebuild() : params, options, signal, what, read);
  });

/** One attempt of {@link postToEndpoint}. */
async function post<T>(
  url: string,
  params: RequestParams,
  options: ResolvedGrantOptions,
  signal: AbortSignal | undefined,
  what: string,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  // A parameter the grant leaves `undefined` (no scope, no hint) is unset: it keeps the extra one.
  const all: RequestParams = { ...options.extraParams };
  for (const [name, value] of Object.entries(params)) if (value !== undefined) all[name] = value;
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  await addCredentials(options, all, headers, {
    endpoint: url,
    issuer: options.issuer,
    now: options.now,
  });
  const body = encodeBody(all, options.bodyEncoding, headers);
  // The credentials of an Authorization header too: a server may echo the Base64 of `id:secret`.
  const secrets = [
    options.clientSecret,
    ...Object.entries(all).map(([name, value]) => SECRET_PARAM.test(name) && value),
    ...Object.entries(headers).map(
      ([name, value]) => /^authorization$/i.test(name) && value?.split(" ").at(-1),
    ),
  ].filter((value): value is string => typeof value === "string" && value !== "");
  const request = { method: "POST", headers, body, redirect: "manual" } as const;
  return exchange(url, what, request, options, signal, (response) =>
    read(response).catch((error: unknown) => {
      throw withoutEchoedSecrets(error, secrets);
    }),
  );
}
