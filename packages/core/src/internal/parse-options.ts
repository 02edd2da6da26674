import * as z from "zod/mini";

/** The `code` of the `TypeError` thrown for invalid options. */
export const INVALID_OPTIONS = "ERR_TOKENKEEP_INVALID_OPTIONS";

/** The fields of a zod issue the messages below read. */
interface Issue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly expected?: unknown;
  readonly values?: readonly unknown[];
  readonly minimum?: unknown;
  readonly maximum?: unknown;
  readonly inclusive?: boolean;
}

/**
 * zod/mini ships no messages (a locale would cost bundle size) and says "Invalid input": say what
 * was expected instead, never the value that was given (it may be a secret).
 */
function describeIssue(issue: Issue): string {
  if (issue.message !== "Invalid input") return issue.message;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${String(issue.expected)}`;
    case "invalid_value":
      return `expected one of ${(issue.values ?? []).map((value) => JSON.stringify(value)).join(", ")}`;
    case "too_small":
      return `must be ${issue.inclusive ? ">=" : ">"} ${String(issue.minimum)}`;
    case "too_big":
      return `must be ${issue.inclusive ? "<=" : "<"} ${String(issue.maximum)}`;
    default:
      return "invalid";
  }
}

/**
 * Parses the options of `createX` once, at the boundary. Invalid options are a programmer error: a
 * `TypeError` with `code` {@link INVALID_OPTIONS} whose `cause` lists the problems as `path: message`.
 * The messages name what was expected, never the received value.
 */
export function parseOptions<S extends z.ZodMiniType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = z.safeParse(schema, value ?? {});
  if (result.success) return result.data;
  const issues = (result.error.issues as readonly Issue[]).map(
    (issue) => `${issue.path.map(String).join(".") || "(options)"}: ${describeIssue(issue)}`,
  );
  const error = new TypeError(`invalid ${what} options: ${issues.join("; ")}`, { cause: issues });
  throw Object.assign(error, { code: INVALID_OPTIONS });
}

/** A schema for a function-valued option (much smaller than `z.function()`, which wraps calls). */
export function functionSchema<F extends (...args: never[]) => unknown>(): z.ZodMiniCustom<F, F> {
  return z.custom<F>((value) => typeof value === "function", "expected a function");
}
