import type * as z from "zod";

/**
 * Parses options with `schema`; a failure is a `TypeError` with `code` and the zod issues in `cause`,
 * listed as `path: message`. Option values are never echoed.
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  options: unknown,
  code: string,
  what: string,
): z.output<S> {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
  throw Object.assign(new TypeError(`Invalid ${what} options: ${issues.join("; ")}`, { cause: issues }), {
    code,
  });
}
