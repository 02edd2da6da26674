import type { TokenCreatorContext, TokenSet } from "@tokenkeep/core";
import { readTokenResponse } from "@tokenkeep/core/http";
import type { RequestParams } from "./body-encoding.js";
import type { ResolvedGrantOptions } from "./grant-options.js";
import { postToEndpoint, resolveEndpoint } from "./internal/token-endpoint.js";

/**
 * What a grant creator returns: a core token creator that can also be called on its own
 * (`await creator()`), with an optional signal and previous token set.
 */
export type GrantCreator = (context?: Partial<TokenCreatorContext>) => Promise<TokenSet>;

/**
 * Makes a token creator for one grant type: it resolves the token endpoint, posts `grant_type` and
 * the grant's parameters, and turns the answer into a token set whose `expiresAt` is anchored at the
 * moment the request was sent. A refresh answer without `refresh_token` keeps `previous`'s.
 */
export function createGrantCreator(
  grantType: string,
  options: ResolvedGrantOptions,
  grantParams: (context: Partial<TokenCreatorContext>) => RequestParams | Promise<RequestParams>,
): GrantCreator {
  return async (context = {}) => {
    const { signal, previous } = context;
    const build = async (): Promise<RequestParams> => ({
      ...(await grantParams(context)),
      grant_type: grantType,
    });
    const params = await build();
    const url = await resolveEndpoint(options, "token_endpoint", options.tokenUrl, signal);
    const sentAt = options.now();
    return postToEndpoint(
      url,
      params,
      options,
      signal,
      "token request",
      (response) =>
        readTokenResponse(response, {
          sentAt,
          previous,
          defaultLifetimeMs: options.defaultLifetimeMs,
          now: options.now,
        }),
      build, // a DPoP nonce challenge's resend: a JWT bearer assertion function signs a fresh one
    );
  };
}
