import * as z from "zod";
import { roleSchema, tokenIdSchema } from "./fields";
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from "./limits";

const queryBooleanSchema = z
  .enum(["true", "1", "false", "0"], { message: "Expected one of true, 1, false, 0" })
  .transform((value) => value === "true" || value === "1");

/**
 * Query of `GET /admin/tokens`, from the strings of a URL. Strict about values (a `limit` must be an
 * integer from 1 to 1000 written in digits; booleans are `true/1/false/0`), unknown keys are ignored.
 */
export const listTokensQuerySchema = z.object({
  afterTokenId: tokenIdSchema.optional(),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,6}$/, "Expected a positive integer")
    .transform(Number)
    .pipe(z.number().max(MAX_LIST_LIMIT, `Expected at most ${MAX_LIST_LIMIT}`))
    .optional()
    .transform((limit) => limit ?? DEFAULT_LIST_LIMIT),
  includeRevoked: queryBooleanSchema.optional().transform((value) => value ?? false),
  includeExpired: queryBooleanSchema.optional().transform((value) => value ?? false),
  includeSecretPhc: queryBooleanSchema.optional().transform((value) => value ?? false),
  hasRole: roleSchema.optional(),
});

/** A parsed `GET /admin/tokens` query. */
export type ListTokensQuery = z.output<typeof listTokensQuerySchema>;

/** Options a client turns into a `GET /admin/tokens` query. */
export interface ListTokensOptions {
  /** Start after this token id (the previous page's `nextAfterTokenId`). @default the first page */
  readonly afterTokenId?: string;
  /** @default 100 */
  readonly limit?: number;
  /** @default false */
  readonly includeRevoked?: boolean;
  /** @default false */
  readonly includeExpired?: boolean;
  /** @default false */
  readonly includeSecretPhc?: boolean;
  /** Only tokens carrying this role. @default any roles */
  readonly hasRole?: string;
}

/** Writes list options as URL search parameters the server accepts. */
export function toListTokensSearchParams(options: ListTokensOptions = {}): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    params.set(key, typeof value === "boolean" ? (value ? "true" : "false") : String(value));
  }
  return params;
}
