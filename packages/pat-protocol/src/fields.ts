import * as z from "zod";
import { MAX_OWNER_LENGTH, MAX_ROLE_LENGTH, MAX_ROLES_COUNT } from "./limits";
import { TOKEN_ID_PATTERN } from "./pat-format";

/** A token id: 21 characters of `[A-Za-z0-9]`. */
export const tokenIdSchema = z.string().regex(TOKEN_ID_PATTERN, "Expected 21 characters of [A-Za-z0-9]");

/** A time in Unix seconds: a non-negative safe integer. */
export const unixSecondsSchema = z.int().nonnegative();

/** A token owner: 1 to 100 characters. */
export const ownerSchema = z.string().min(1).max(MAX_OWNER_LENGTH);

/** A role name: 1 to 100 characters. */
export const roleSchema = z.string().min(1).max(MAX_ROLE_LENGTH);

/** A list of at most 50 roles. Roles behave as a set: the server drops duplicates and keeps no order. */
export const rolesSchema = z.array(roleSchema).max(MAX_ROLES_COUNT);
