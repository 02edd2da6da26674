import * as z from "zod";

/** The JSON error body every route answers with: `{ error: { message, code?, details? } }`. */
export const apiErrorSchema = z.object({
  error: z.object({
    message: z.string(),
    code: z.string().optional(),
    details: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  }),
});

/** The JSON error body of the protocol. */
export type ApiError = z.output<typeof apiErrorSchema>;

/** True when `value` has the shape of the protocol's error body. */
export function isApiError(value: unknown): value is ApiError {
  return apiErrorSchema.safeParse(value).success;
}
