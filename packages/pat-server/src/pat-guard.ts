import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import * as z from "zod";
import { DEFAULT_ISSUER } from "./defaults";
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
}

/** Verifies JWTs of a PAT server in another process, for an API's own routes. */
export interface PatGuard {
  /** Checks `Authorization: Bearer <JWT>` and the requirement (`admin`, `role`). */
  authenticate(request: Request, requirement?: AccessRequirement): Promise<PatAuthResult>;
}

const optionsSchema = z.object({
  jwks: z.union([z.instanceof(URL), z.looseObject({ keys: z.array(z.record(z.string(), z.unknown())) })]),
  issuer: z.string().min(1).default(DEFAULT_ISSUER),
  now: z.custom<() => number>((value) => typeof value === "function").optional(),
});

/**
 * Creates a route guard for an API that trusts a PAT server: JWT signature (from the server's JWKS),
 * issuer, expiry, then the `admin` claim or a role. Answers the protocol's 401/403 error bodies.
 * Revocation reaches such an API only when the JWT expires: keep `jwtLifetimeSeconds` short.
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for bad options.
 */
export function createPatGuard(options: PatGuardOptions): PatGuard {
  const parsed = parseOptions(optionsSchema, options, "createPatGuard");
  const keySet =
    parsed.jwks instanceof URL
      ? createRemoteJWKSet(parsed.jwks)
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
