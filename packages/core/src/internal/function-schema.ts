import * as z from "zod/mini";

/** A schema for a function-valued option (much smaller than `z.function()`, which wraps calls). */
export function functionSchema<F extends (...args: never[]) => unknown>(): z.ZodMiniCustom<F, F> {
  return z.custom<F>((value) => typeof value === "function", "expected a function");
}
