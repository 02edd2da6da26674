import * as z from "zod";
import { patRecordSchema } from "./pat-record";

/**
 * Response of `GET /admin/tokens`. `nextAfterTokenId` is our addition: the cursor for the next page, or
 * `null` when this page is the last (absent from servers that do not send it).
 */
export const listTokensResponseSchema = z.object({
  records: z.array(patRecordSchema),
  nextAfterTokenId: z.string().nullish(),
});
/** Response of `GET /admin/tokens`. */
export type ListTokensResponse = z.output<typeof listTokensResponseSchema>;

/** Response of `POST /admin/tokens` (201): the only time the plaintext token is returned. */
export const issueTokenResponseSchema = z.object({ token: z.string(), record: patRecordSchema });
/** Response of `POST /admin/tokens`. */
export type IssueTokenResponse = z.output<typeof issueTokenResponseSchema>;

/** Response of `PUT /admin/tokens/:tokenId`. */
export const registerTokenResponseSchema = z.object({ record: patRecordSchema });
/** Response of `PUT /admin/tokens/:tokenId`. */
export type RegisterTokenResponse = z.output<typeof registerTokenResponseSchema>;

/** Response of `POST /admin/tokens/batch`. */
export const batchTokensResponseSchema = z.object({
  found: z.array(patRecordSchema),
  notFound: z.array(z.string()),
});
/** Response of `POST /admin/tokens/batch`. */
export type BatchTokensResponse = z.output<typeof batchTokensResponseSchema>;
