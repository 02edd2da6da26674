import * as z from "zod";

/**
 * A token record as the server sends it (`PatRecord`), parsed tolerantly: optional fields may be absent
 * or `null`, unknown fields are dropped. Times are Unix seconds. `secretPhc` is present only when the
 * caller asked for `includeSecretPhc`.
 */
export const patRecordSchema = z.object({
  tokenId: z.string().min(1),
  owner: z.string(),
  isAdmin: z.boolean().default(false),
  roles: z
    .array(z.string())
    .nullish()
    .transform((roles) => roles ?? []),
  secretPhc: z.string().optional(),
  createdAt: z.number(),
  lastUsedAt: z.number().nullish(),
  expiresAt: z.number().nullish(),
  revokedAt: z.number().nullish(),
});

/** A token record without its secret hash (unless asked for). Times are Unix seconds. */
export type PatRecord = z.output<typeof patRecordSchema>;
