import { type PatJwtClaims, patJwtClaimsSchema, tokenIdSchema } from "@tokenkeep/pat-protocol";
import { errors } from "jose";
import type { HandlerContext } from "./handler-context";
import { HttpError } from "./http";
import { isActive } from "./public-record";
import { secretVersion } from "./secret-version";

/** What a route requires of the caller's JWT. */
export interface AccessRequirement {
  /** The `admin` claim must be true (403 `Admin access required` otherwise). */
  readonly admin?: boolean;
  /** The `roles` claim must contain this role (403 `Access denied` otherwise). */
  readonly role?: string;
}

/**
 * Checks `Authorization: Bearer <JWT>` with `verify` and the requirement; returns the claims or throws
 * an {@link HttpError} with the protocol's messages. `verify` rejects with a JOSE error for a bad
 * token (a 401), or with an `HttpError` of its own, passed on as it is.
 */
export async function authenticate(
  request: Request,
  verify: (jwt: string) => Promise<Record<string, unknown>>,
  requirement: AccessRequirement = {},
): Promise<PatJwtClaims> {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) throw new HttpError(401, "Missing or invalid Authorization header");
  let payload: Record<string, unknown>;
  try {
    payload = await verify(match[1]!);
  } catch (error) {
    // A failure `verify` answers itself (the guard's 503 while the JWKS cannot be fetched) is not the
    // caller's fault: only token errors become a 401.
    if (error instanceof HttpError) throw error;
    const code = error instanceof errors.JOSEError ? error.code : "ERR_JWT_INVALID";
    throw new HttpError(401, "Invalid JWT", { code });
  }
  const claims = patJwtClaimsSchema.safeParse(payload);
  if (!claims.success) throw new HttpError(401, "Invalid JWT", { code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
  if (requirement.admin && claims.data.admin !== true) throw new HttpError(403, "Admin access required");
  if (requirement.role !== undefined && !claims.data.roles.includes(requirement.role)) {
    throw new HttpError(403, "Access denied");
  }
  return claims.data;
}

/**
 * The caller of one handler, checked the one way its admin routes and `handler.authenticate()` both
 * use: the JWT as {@link authenticate} checks it with the handler's keys, then, when `admin` is
 * required and `recheckAdminTokens` is on, the JWT's token record (one indexed read, no scrypt): a
 * token revoked, expired or deleted since, or whose secret was replaced since (the JWT's `sv` claim no
 * longer names the stored PHC), answers 401 `Invalid JWT` (`ERR_TOKEN_INACTIVE`), one no longer admin
 * 403 `Admin access required`, one whose required `role` was removed since 403 `Access denied`. A JWT
 * without `sv` (signed before the claim existed) is not checked for it.
 */
export async function authenticateCaller(
  ctx: HandlerContext,
  request: Request,
  requirement: AccessRequirement,
): Promise<PatJwtClaims> {
  const keys = await ctx.keys();
  const claims = await authenticate(request, (jwt) => keys.verify(jwt, ctx.nowSeconds()), requirement);
  if (requirement.admin && ctx.options.recheckAdminTokens) {
    const record = tokenIdSchema.safeParse(claims.sub).success ? await ctx.store.get(claims.sub) : undefined;
    const replaced =
      record !== undefined &&
      claims.sv !== undefined &&
      claims.sv !== (await secretVersion(record.secretPhc));
    if (!record || !isActive(record, ctx.nowSeconds()) || replaced) {
      throw new HttpError(401, "Invalid JWT", { code: "ERR_TOKEN_INACTIVE" });
    }
    if (!record.isAdmin) throw new HttpError(403, "Admin access required");
    // The record read decides, as it does for `admin`: a role removed since no longer opens the route.
    if (requirement.role !== undefined && !record.roles.includes(requirement.role)) {
      throw new HttpError(403, "Access denied");
    }
  }
  return claims;
}
