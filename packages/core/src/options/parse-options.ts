import { INVALID_OPTIONS_CODE, invalidOptions, isObject, problem, unknownKeys } from "./rules.js";

/** The Standard Schema v1 interface (https://standardschema.dev), copied as its authors recommend. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) => StandardSchemaV1.Result<Output> | Promise<StandardSchemaV1.Result<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export declare namespace StandardSchemaV1 {
  /** The result of `validate`. */
  type Result<Output> =
    | { readonly value: Output; readonly issues?: undefined }
    | { readonly issues: ReadonlyArray<Issue> };
  /** One problem. zod's issues carry more fields (`code`, `expected`...), read when present. */
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
  }
  /** The output type of a schema. */
  type InferOutput<S extends StandardSchemaV1> = NonNullable<S["~standard"]["types"]>["output"];
}

/** The fields of an issue the messages below read: zod's issues carry `code` and the rest. */
interface Issue extends StandardSchemaV1.Issue {
  readonly code?: string;
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
 * What an issue says was expected, never the value that was given (it may be a secret). Only a zod
 * schema's message is kept (one its author chose, or a loaded locale's: zod's own messages name
 * types and bounds, never the input); zod/mini's bare "Invalid input" is replaced. Any other
 * library's message is not read at all, since some quote the input (valibot's "...but received
 * \"s3cret\"", arktype's "(was ...)"): the line is built from the issue's `code` and `expected`.
 */
function describeIssue(issue: Issue, zod: boolean): string {
  if (zod && issue.message !== "Invalid input") return issue.message;
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
      // valibot and arktype put the schema's requirement in `expected` ("string", "a string").
      return issue.expected == null ? "invalid" : `expected ${String(issue.expected)}`;
  }
}

/** zod's internals the unknown-key check reads: an object schema's shape, a wrapper's inner schema. */
interface SchemaInternals {
  readonly shape?: Record<string, unknown>;
  readonly _zod?: {
    readonly def?: {
      readonly type?: string;
      readonly shape?: Record<string, unknown>;
      /** The schema of keys outside the shape: `never` for a strict object, absent for a stripping one. */
      readonly catchall?: SchemaInternals;
      readonly innerType?: unknown;
      readonly in?: unknown;
    };
  };
}

/** The shape of an object schema, looking through optional/default/nullable/pipe wrappers. */
/**
 * The shape of an object schema, and whether it takes keys outside it (zod's `looseObject`,
 * `.passthrough()`, `.catchall(schema)`): those keys are the schema's to judge, not unknown.
 */
function shapeOf(schema: unknown): { shape: Record<string, unknown>; open: boolean } | undefined {
  let current = schema as SchemaInternals | undefined;
  for (let depth = 0; current !== undefined && depth < 10; depth++) {
    const shape = current._zod?.def?.shape ?? current.shape;
    const catchall = current._zod?.def?.catchall;
    if (isObject(shape))
      return { shape, open: catchall !== undefined && catchall._zod?.def?.type !== "never" };
    current = (current._zod?.def?.innerType ?? current._zod?.def?.in) as SchemaInternals | undefined;
  }
  return undefined;
}

/**
 * Keys of `input` that an object schema (zod's, or any exposing `shape`) does not know, at every
 * depth where both the schema and the input are objects: each named with the nearest known key.
 * An object schema that takes other keys (a zod `looseObject`, `.passthrough()`, `.catchall()`)
 * has none unknown; its fields are still checked.
 * Schemas without a visible shape are not checked here (they may reject unknown keys themselves).
 */
function unknownKeyProblems(schema: unknown, input: unknown, path: string): string[] {
  const object = shapeOf(schema);
  if (object === undefined || !isObject(input)) return [];
  const { shape } = object;
  const problems = object.open ? [] : unknownKeys(input, Object.keys(shape), path);
  for (const [key, field] of Object.entries(shape)) {
    problems.push(...unknownKeyProblems(field, input[key], path ? `${path}.${key}` : key));
  }
  return problems;
}

/**
 * Validates the options of a factory with a schema library: like `rules.validate`, but with any
 * synchronous Standard Schema (https://standardschema.dev), such as a zod, valibot or arktype schema.
 *
 * Parses `input` (`undefined` and `null` read as `{}`), then runs `check` on the parsed options for
 * rules one schema cannot say well (one option required by another). Any problem is a programmer
 * error: a `TypeError` with `code` `ERR_TOKENKEEP_INVALID_OPTIONS` whose `cause` lists every problem
 * as a `path: message` line (`(options)` for the object itself), and whose message is
 * `invalid <factoryName> options: <problems joined by "; ">`. The messages say what was expected
 * and never include the value given, which may be a secret: a zod schema's messages are kept (zod's
 * bare "Invalid input" is replaced by what the issue says was expected), any other library's are
 * rebuilt from the issue's `code` and `expected`, since some quote the value (valibot, arktype).
 * Write a zod schema's own messages without the input.
 *
 * @param schema - The options schema; its defaults and transforms apply to the result.
 * @param input - The options as the caller passed them.
 * @param factoryName - The factory named in the message, e.g. `"createRedisStore"`.
 * @param check - Optional further rules on the parsed options, returning `path: message` lines
 *   (none when the options are fine). Runs only when the schema accepted `input`.
 * @returns The parsed options.
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) when `input` is invalid, or when the
 *   schema validates asynchronously (options are checked synchronously).
 *
 * @example
 * const parsed = parseOptions(zodSchema, options, "createRedisStore");
 */
export function parseOptions<S extends StandardSchemaV1>(
  schema: S,
  input: unknown,
  factoryName: string,
  check?: (options: StandardSchemaV1.InferOutput<S>) => readonly string[],
): StandardSchemaV1.InferOutput<S> {
  const standard = schema["~standard"];
  const result = standard.validate(input ?? {});
  if (result instanceof Promise) {
    // Its outcome is not awaited: a rejection must not surface later as an unhandled one.
    result.catch(() => {});
    throw Object.assign(new TypeError(`the options schema of ${factoryName} must validate synchronously`), {
      code: INVALID_OPTIONS_CODE,
    });
  }
  // Unknown keys are named here, with the nearest known one; a strict schema's own report of them goes.
  const unknown = unknownKeyProblems(schema, input ?? {}, "");
  const issues = ((result.issues ?? []) as readonly Issue[]).filter(
    (issue) => unknown.length === 0 || issue.code !== "unrecognized_keys",
  );
  if (issues.length > 0 || unknown.length > 0) {
    throw invalidOptions(factoryName, [
      ...unknown,
      ...issues.map((issue) =>
        problem(
          (issue.path ?? []).map((part) => String(typeof part === "object" ? part.key : part)).join("."),
          describeIssue(issue, standard.vendor === "zod"),
        ),
      ),
    ]);
  }
  // No issue left: the schema accepted the input.
  const value = (result as { readonly value: StandardSchemaV1.InferOutput<S> }).value;
  const problems = check?.(value) ?? [];
  if (problems.length > 0) throw invalidOptions(factoryName, problems);
  return value;
}
