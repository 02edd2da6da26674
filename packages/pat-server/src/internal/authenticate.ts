import { type PatJwtClaims, patJwtClaimsSchema } from "@tokenkeep/pat-protocol";
import { errors } from "jose";
import { HttpError } from "./http";

/** What a route requires of the caller's JWT. */
export interface AccessRequirement {
  /** The `admin` claim must be true (403 `Admin access required` otherwise). */
  readonly admin?: boolean;
  /** The `roles` claim must contain this role (403 `Access denied` otherwise). */
  readonly role?: string;
}

/**
 * Checks `Authorization: Bearer <JWT>` with `verify` and the requirement; returns the claims or throws
 * an {@link HttpError} with the protocol's messages.
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
