import { parseOptions as parseWithSchema } from "@tokenkeep/core/options";
import type * as z from "zod";

/**
 * Parses options with `schema` through core's `parseOptions`, so pat-server reports bad options as
 * every tokenkeep package does: a `TypeError` with code `ERR_TOKENKEEP_INVALID_OPTIONS`, the problems
 * in `cause` as `path: message`, an unknown key naming the nearest known one. Values are never echoed.
 */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, what: string): z.output<S> {
  return parseWithSchema(schema, options, what) as z.output<S>;
}
