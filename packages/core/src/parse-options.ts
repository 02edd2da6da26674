import * as z from "zod/mini";

/** The `code` of the `TypeError` {@link parseOptions} throws for invalid options. */
export const INVALID_OPTIONS_CODE = "ERR_TOKENKEEP_INVALID_OPTIONS";

/** The fields of a zod issue the messages below read. */
interface Issue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly expected?: unknown;
  readonly values?: readonly unknown[];
  readonly keys?: readonly string[];
  readonly minimum?: unknown;
  readonly maximum?: unknown;
  readonly inclusive?: boolean;
  readonly origin?: string;
}

/**
 * zod/mini ships no messages (a locale would cost bundle size) and says "Invalid input": say what
 * was expected instead, never the value that was given (it may be a secret). A message the schema
 * chose (or a loaded locale's) is kept.
 */
function describeIssue(issue: Issue): string {
  if (issue.message !== "Invalid input") return issue.message;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${String(issue.expected)}`;
    case "invalid_value":
      return `expected one of ${(issue.values ?? []).map((value) => JSON.stringify(value)).join(", ")}`;
    case "too_small":
    case "too_big": {
      const small = issue.code === "too_small";
      const limit = String(small ? issue.minimum : issue.maximum);
      if (small && limit === "1" && issue.origin === "string") return "must not be empty";
      const length = issue.origin === "string" || issue.origin === "array" ? "length " : "";
      return `${length}must be ${small ? ">" : "<"}${issue.inclusive ? "=" : ""} ${limit}`;
    }
    case "invalid_union":
      return "does not match any allowed shape";
    case "unrecognized_keys":
      return `unknown option ${(issue.keys ?? []).map((key) => JSON.stringify(key)).join(", ")}`;
    default:
      return "invalid";
  }
}

/**
 * Validates the options of a factory once, at its boundary, for packages that build on core (grants,
 * stores): every tokenkeep factory reports bad options the same way.
 *
 * Parses `input` (`undefined` and `null` read as `{}`) with a zod schema (`zod/mini` or `zod`), then
 * runs `check` on the parsed options for rules one schema cannot say well (one option required by
 * another). Any problem is a programmer error: a `TypeError` with `code`
 * {@link INVALID_OPTIONS_CODE} whose `cause` lists every problem as a `path: message` line
 * (`(options)` for the object itself), and whose message is
 * `invalid <factoryName> options: <problems joined by "; ">`. The messages say what was expected and
 * never include the value given, which may be a secret.
 *
 * @param schema - The options schema; its defaults and transforms apply to the result.
 * @param input - The options as the caller passed them.
 * @param factoryName - The factory named in the message, e.g. `"createRedisStore"`.
 * @param check - Optional further rules on the parsed options, returning `path: message` lines
 *   (none when the options are fine). Runs only when the schema accepted `input`.
 * @returns The parsed options.
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) when `input` is invalid.
 *
 * @example
 * const parsed = parseOptions(schema, options, "createRedisStore");
 */
export function parseOptions<S extends z.core.$ZodType>(
  schema: S,
  input: unknown,
  factoryName: string,
  check?: (options: z.core.output<S>) => readonly string[],
): z.core.output<S> {
  const result = z.safeParse(schema, input ?? {});
  const problems = result.success
    ? (check?.(result.data) ?? [])
    : (result.error.issues as readonly Issue[]).map(
        (issue) => `${issue.path.map(String).join(".") || "(options)"}: ${describeIssue(issue)}`,
      );
  if (problems.length === 0) return result.data as z.core.output<S>;
  const error = new TypeError(`invalid ${factoryName} options: ${problems.join("; ")}`, { cause: problems });
  throw Object.assign(error, { code: INVALID_OPTIONS_CODE });
}
