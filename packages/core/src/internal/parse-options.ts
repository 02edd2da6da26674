import * as z from "zod/mini";

/** The `code` of the `TypeError` thrown for invalid options. */
export const INVALID_OPTIONS = "ERR_TOKENKEEP_INVALID_OPTIONS";

/**
 * Parses the options of `createX` once, at the boundary. Invalid options are a programmer error: a
 * `TypeError` with `code` {@link INVALID_OPTIONS} whose `cause` lists the problems as `path: message`.
 * zod's messages name the expected type, never the received value.
 */
export function parseOptions<S extends z.ZodMiniType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = z.safeParse(schema, value ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map(
    (issue) => `${issue.path.join(".") || "(options)"}: ${issue.message}`,
  );
  const error = new TypeError(`invalid ${what} options: ${issues.join("; ")}`, { cause: issues });
  throw Object.assign(error, { code: INVALID_OPTIONS });
}

/** A schema for a function-valued option (much smaller than `z.function()`, which wraps calls). */
export function functionSchema<F extends (...args: never[]) => unknown>(): z.ZodMiniCustom<F, F> {
  return z.custom<F>((value) => typeof value === "function", "expected a function");
}
