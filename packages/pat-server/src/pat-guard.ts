import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import * as z from "zod";
import { DEFAULT_ISSUER, DEFAULT_JWKS_RETRY_AFTER_SECONDS } from "./defaults";
import { type AccessRequirement, authenticate } from "./internal/authenticate";
import { errorResponse, HttpError } from "./internal/http";
import { parseOptions } from "./internal/options";
import type { PatAuthResult } from "./pat-handler";

/** Options of {@link createPatGuard}. */
export interface PatGuardOptions {
  /**
   * The PAT server's public keys: the URL of its JWKS document (fetched and cached, refetched for an
   * unknown `kid`), or the document itself.
   */
  readonly jwks: URL | JSONWebKeySet;
  /**
   * The `iss` the PAT server signs with.
   * @default "tokenkeep-pat-server"
   */
  readonly issuer?: string;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /**
   * Called with `{ error }` each time the JWKS document cannot be fetched (the request then answers
   * 503): unreachable, too slow, a status other than 200, or a body that is no JWKS.
   * @default logs the error's name and message to `console.error`
   */
  readonly onError?: (state: { readonly error: unknown }) => void;
}

/** Verifies JWTs of a PAT server in another process, for an API's own routes. */
export interface PatGuard {
  /**
   * Checks `Authorization: Bearer <JWT>` and the requirement (`admin`, `role`). A bad token answers 401
   * or 403; a JWKS document that cannot be fetched answers 503 with `Retry-After`.
   */
  authenticate(request: Request, requirement?: AccessRequirement): Promise<PatAuthResult>;
}

const optionsSchema = z.object({
  jwks: z.union([z.instanceof(URL), z.looseObject({ keys: z.array(z.record(z.string(), z.unknown())) })]),
  issuer: z.string().min(1).default(DEFAULT_ISSUER),
  now: z.custom<() => number>((value) => typeof value === "function").optional(),
  onError: z.custom<(state: { error: unknown }) => void>((value) => typeof value === "function").optional(),
});

/**
 * True when the key lookup failed because the JWKS document could not be fetched or read, not because
 * of the token: jose's timeout, a document that is no JWKS (or holds no public keys), its generic error
 * for a status other than 200 or a body that is not JSON, and `fetch`'s own failures (refused, DNS,
 * TLS), which are not JOSE errors. A token whose `kid` matches no key (`ERR_JWKS_NO_MATCHING_KEY`),
 * or that matches several, is the token's fault.
 */
function isJwksUnavailable(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true;
  return ["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC"].includes(error.code);
}

function defaultOnError({ error }: { error: unknown }): void {
  const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
  console.error(`[tokenkeep/pat-server] createPatGuard: JWKS unavailable: ${name}: ${message}`);
}

/**
 * Creates a route guard for an API that trusts a PAT server: JWT signature (from the server's JWKS),
 * issuer, expiry, then the `admin` claim or a role. Answers the protocol's 401/403 error bodies for a
 * bad token, and 503 (`ERR_JWKS_UNAVAILABLE`, with `Retry-After`) while the JWKS document cannot be
 * fetched, so clients keep their JWT and retry later rather than exchange their PAT again.
 * Revocation reaches such an API only when the JWT expires: keep `jwtLifetimeSeconds` short.
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for bad options.
 */
export function createPatGuard(options: PatGuardOptions): PatGuard {
  const parsed = parseOptions(optionsSchema, options, "createPatGuard");
  const onError = parsed.onError ?? defaultOnError;
  const keySet: JWTVerifyGetKey =
    parsed.jwks instanceof URL
      ? remoteKeys(createRemoteJWKSet(parsed.jwks), onError)
      : createLocalJWKSet(parsed.jwks as JSONWebKeySet);
  const now = parsed.now ?? (() => Date.now());
  const verify = async (jwt: string) =>
    (
      await jwtVerify(jwt, keySet, {
        issuer: parsed.issuer,
        algorithms: ["EdDSA", "RS256"],
        typ: "JWT",
        currentDate: new Date(now()),
      })
    ).payload;
  return {
    async authenticate(request, requirement = {}) {
      try {
        return { ok: true, claims: await authenticate(request, verify, requirement) };
      } catch (error) {
        if (error instanceof HttpError) return { ok: false, response: errorResponse(error) };
        throw error;
      }
    },
  };
}

/** The remote key set, with a failure to fetch the document turned into a 503 (never a 401). */
function remoteKeys(
  remote: JWTVerifyGetKey,
  onError: (state: { readonly error: unknown }) => void,
): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (!isJwksUnavailable(error)) throw error;
      onError({ error });
      throw new HttpError(503, "The PAT server's public keys are unavailable", {
        code: "ERR_JWKS_UNAVAILABLE",
        headers: { "retry-after": String(DEFAULT_JWKS_RETRY_AFTER_SECONDS) },
      });
    }
  };
}
