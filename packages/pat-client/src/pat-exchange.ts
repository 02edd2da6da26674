import type { TokenCreator, TokenResponse } from "@tokenkeep/core";
import { tokenExchangeResponseSchema } from "@tokenkeep/pat-protocol";
import type { Http } from "./internal/http";

/** What the exchange needs. */
export interface PatExchangeSettings {
  /** The HTTP layer (retries, timeouts, error mapping). */
  readonly http: Http;
  /** Absolute URL of `POST <authPath>/token`. */
  readonly tokenUrl: string;
  /** The personal access token. */
  readonly apiKey: string;
}

/**
 * The PAT-to-JWT exchange as a core `TokenCreator`: posts the PAT as `client_secret` of a
 * `client_credentials` request (urlencoded, which every server of the protocol accepts) and returns
 * the answer for core's token manager to validate, cache and renew.
 *
 * This is the only request that carries the PAT.
 */
export function patExchangeCreator(settings: PatExchangeSettings): TokenCreator {
  return async ({ signal }): Promise<TokenResponse> => {
    const answer = await settings.http.json(
      {
        operation: "exchange",
        method: "POST",
        url: settings.tokenUrl,
        form: new URLSearchParams({ grant_type: "client_credentials", client_secret: settings.apiKey }),
        idempotent: true,
        signal,
      },
      tokenExchangeResponseSchema,
    );
    return {
      access_token: answer.access_token,
      token_type: answer.token_type,
      expires_in: answer.expires_in,
    };
  };
}
