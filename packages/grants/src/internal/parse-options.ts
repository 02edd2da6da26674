import * as z from "zod/mini";
import { invalidOptions } from "../invalid-options.js";

interface Issue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly expected?: unknown;
  readonly values?: readonly unknown[];
  readonly minimum?: unknown;
  readonly inclusive?: boolean;
  readonly origin?: string;
}

// zod/mini ships no messages (its locale would cost bundle size): say what was expected, never the
// value that was given, since it may be a secret.
function describe(issue: Issue): string {
  if (issue.message !== "Invalid input") return issue.message;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${String(issue.expected)}`;
    case "invalid_value":
      return `expected one of ${(issue.values ?? []).map((value) => JSON.stringify(value)).join(", ")}`;
    case "too_small":
      if (issue.origin === "string") return Number(issue.minimum) === 1 ? "must not be empty" : "too short";
      return `must be ${issue.inclusive ? ">=" : ">"} ${String(issue.minimum)}`;
    case "too_big":
      return "too large";
    case "invalid_union":
      return "does not match any allowed shape";
    case "unrecognized_keys":
      return "unknown option";
    default:
      return "invalid";
  }
}

/** One line per problem: `path: message`. */
export function formatIssues(issues: readonly Issue[]): string[] {
  return issues.map((issue) => `${issue.path.map(String).join(".") || "(options)"}: ${describe(issue)}`);
}

/** Parses `input` with `schema`, or throws the {@link invalidOptions} `TypeError`. */
export function parseOptions<S extends z.ZodMiniType>(
  factory: string,
  schema: S,
  input: unknown,
): z.output<S> {
  const result = z.safeParse(schema, input);
  if (result.success) return result.data;
  throw invalidOptions(factory, formatIssues(result.error.issues as readonly Issue[]));
}
