import * as z from "zod";
import { ownerSchema, rolesSchema, tokenIdSchema, unixSecondsSchema } from "./fields";
import { MAX_BATCH_TOKEN_IDS, MAX_PAT_LENGTH } from "./limits";
import { scryptPhcSchema } from "./scrypt-phc";

/** Body of `POST /admin/tokens` (strict: unknown keys are rejected). */
export const issueTokenRequestSchema = z.strictObject({
  tokenId: tokenIdSchema.optional(),
  owner: ownerSchema,
  isAdmin: z.boolean().optional(),
  roles: rolesSchema.optional(),
  expiresAt: unixSecondsSchema.optional(),
});
/** Body of `POST /admin/tokens`. */
export type IssueTokenRequest = z.input<typeof issueTokenRequestSchema>;

/** Body of `PUT /admin/tokens/:tokenId`: registers a pre-generated token (strict). */
export const registerTokenRequestSchema = z.strictObject({
  secretPhc: scryptPhcSchema,
  owner: ownerSchema,
  isAdmin: z.boolean().optional(),
  roles: rolesSchema.optional(),
  expiresAt: unixSecondsSchema.optional(),
});
/** Body of `PUT /admin/tokens/:tokenId`. */
export type RegisterTokenRequest = z.input<typeof registerTokenRequestSchema>;

/** A roles change: a replacement list, `{ add }` or `{ remove }`. */
export const rolesUpdateSchema = z.union([
  rolesSchema,
  z.strictObject({ add: rolesSchema }),
  z.strictObject({ remove: rolesSchema }),
]);
/** A roles change: a replacement list, `{ add }` or `{ remove }`. */
export type RolesUpdate = z.output<typeof rolesUpdateSchema>;

/** Body of `PATCH /admin/tokens/:tokenId` (strict). `expiresAt: null` removes the expiry. */
export const updateTokenRequestSchema = z.strictObject({
  secretPhc: scryptPhcSchema.optional(),
  owner: ownerSchema.optional(),
  isAdmin: z.boolean().optional(),
  roles: rolesUpdateSchema.optional(),
  expiresAt: unixSecondsSchema.nullable().optional(),
});
/** Body of `PATCH /admin/tokens/:tokenId`. */
export type UpdateTokenRequest = z.input<typeof updateTokenRequestSchema>;

/** Body of `PUT /admin/tokens/:tokenId/revoke` (strict; `{}` at least). */
export const revokeTokenRequestSchema = z.strictObject({
  expiresAt: unixSecondsSchema.optional(),
});
/** Body of `PUT /admin/tokens/:tokenId/revoke`. */
export type RevokeTokenRequest = z.input<typeof revokeTokenRequestSchema>;

/** Body of `POST /admin/tokens/batch` (strict). Ids that are not well-formed are reported as not found. */
export const batchTokensRequestSchema = z.strictObject({
  tokenIds: z.array(z.string().max(MAX_PAT_LENGTH)).max(MAX_BATCH_TOKEN_IDS),
  includeSecretPhc: z.boolean().optional(),
});
/** Body of `POST /admin/tokens/batch`. */
export type BatchTokensRequest = z.input<typeof batchTokensRequestSchema>;
