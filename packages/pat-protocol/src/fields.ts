import * as z from "zod";
import { MAX_OWNER_LENGTH, MAX_ROLE_LENGTH, MAX_ROLES_COUNT } from "./limits";
import { TOKEN_ID_PATTERN } from "./pat-format";

/** A token id: 21 characters of `[A-Za-z0-9]`. */
export const tokenIdSchema = z.string().regex(TOKEN_ID_PATTERN, "Expected 21 characters of [A-Za-z0-9]");

/** A time in Unix seconds: a non-negative safe integer. */
export const unixSecondsSchema = z.int().nonnegative();

/**
 * Free text a store keeps (an owner, a role): 1 to `max` characters, none of them NUL (`\u0000`),
 * which PostgreSQL's text type cannot hold (it would be a 500 there and stored by SQLite: the stores
 * must agree, so both refuse it as a 400).
 */
function storedTextSchema(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !value.includes("\u0000"), "Expected no NUL character (\\u0000)");
}

/** A token owner: 1 to 100 characters, no NUL. */
export const ownerSchema = storedTextSchema(MAX_OWNER_LENGTH);

/** A role name: 1 to 100 characters, no NUL. */
export const roleSchema = storedTextSchema(MAX_ROLE_LENGTH);

/** A list of at most 50 roles. Roles behave as a set: the server drops duplicates and keeps no order. */
export const rolesSchema = z.array(roleSchema).max(MAX_ROLES_COUNT);
