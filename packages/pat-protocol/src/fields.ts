import * as z from "zod";
import { MAX_OWNER_LENGTH, MAX_ROLE_LENGTH, MAX_ROLES_COUNT } from "./limits";
import { TOKEN_ID_PATTERN } from "./pat-format";

/** A token id: 21 characters of `[A-Za-z0-9]`. */
export const tokenIdSchema = z.string().regex(TOKEN_ID_PATTERN, "Expected 21 characters of [A-Za-z0-9]");

/** A time in Unix seconds: a non-negative safe integer. */
export const unixSecondsSchema = z.int().nonnegative();

/** An unpaired surrogate: with the `u` flag, a surrogate that is half of a pair is not matched. */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/**
 * Free text a store keeps (an owner, a role): 1 to `max` characters (UTF-16 code units), none of them
 * - NUL (`\u0000`), which PostgreSQL's text type cannot hold (it would be a 500 there and stored by
 *   SQLite: the stores must agree, so both refuse it as a 400);
 * - an unpaired surrogate (`\ud800`-`\udfff` not part of a pair, as JSON's `"\ud800"` reads), which
 *   UTF-8 cannot encode: a store would keep U+FFFD instead, so two owners sent as different strings
 *   would be stored, and shown, as the same one.
 */
function storedTextSchema(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !value.includes("\u0000"), "Expected no NUL character (\\u0000)")
    .refine(
      (value) => !UNPAIRED_SURROGATE.test(value),
      "Expected well-formed Unicode: no unpaired surrogate (\\ud800-\\udfff)",
    );
}

/** A token owner: 1 to 100 characters, no NUL, no unpaired surrogate. */
export const ownerSchema = storedTextSchema(MAX_OWNER_LENGTH);

/** A role name: 1 to 100 characters, no NUL, no unpaired surrogate. */
export const roleSchema = storedTextSchema(MAX_ROLE_LENGTH);

/** A list of at most 50 roles. Roles behave as a set: the server drops duplicates and keeps no order. */
export const rolesSchema = z.array(roleSchema).max(MAX_ROLES_COUNT);
