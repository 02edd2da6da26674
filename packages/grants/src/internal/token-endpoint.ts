import { InvalidResponseError } from "@tokenkeep/core";
import { encodeBody, type RequestParams } from "../body-encoding.js";
import { applyClientAuthentication } from "../client-authentication.js";
import { discover } from "../discovery.js";
import type { ResolvedGrantOptions } from "../grant-options.js";
import { exchange } from "./exchange.js";

/** Which endpoint of the server a request goes to. */
export type EndpointKind = "token_endpoint" | "revocation_endpoint";

/** The endpoint's URL: the configured one, or the one the issuer's metadata names. */
export async function resolveEndpoint(
  options: ResolvedGrantOptions,
  kind: EndpointKind,
  configured: string | undefined,
  signal: AbortSignal | undefined,
): Promise<string> {
  if (configured !== undefined) return configured;
  const issuer = options.issuer as string; // options were checked: one of the two is set
  const metadata = await discover(issuer, {
    fetch: options.fetch,
    ky: options.ky,
    timeoutMs: options.timeoutMs,
    signal,
  });
  const url = metadata[kind];
  if (url === undefined) {
    throw new InvalidResponseError(`the metadata of ${issuer} names no ${kind}`, { transient: false });
  }
  return url;
}

/**
 * Sends one request to an endpoint of the authorization server: client authentication applied,
 * parameters encoded, extra parameters and headers added, within the timeout and the caller's signal.
 */
export function postToEndpoint<T>(
  url: string,
  params: RequestParams,
  options: ResolvedGrantOptions,
  signal: AbortSignal | undefined,
  what: string,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  const all: RequestParams = { ...options.extraParams, ...params };
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  applyClientAuthentication(options, all, headers);
  const { body, contentType } = encodeBody(all, options.bodyEncoding);
  headers["content-type"] = contentType;
  return exchange({ url, method: "POST", headers, body, what }, options, signal, read);
}
