import * as z from "zod";
import { HttpError } from "./http";

/** Parses `value` with `schema`; a failure is a 400 whose `details` list each issue (never the values). */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  message = "Invalid request body",
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new HttpError(400, message, { code: "ERR_VALIDATION", details: z.prettifyError(result.error) });
}
