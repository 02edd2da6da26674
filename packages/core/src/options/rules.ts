/**
 * Option rules: the small validators tokenkeep's factories check their options with.
 *
 * Why not zod here: zod/mini alone bundles to ~4.7 KiB minified+gzipped for one object schema, most
 * of core's size budget. Options need a handful of checks (type, range, non-empty, one of), so these
 * rules do that in about 1 KiB. Packages that would rather use a schema library (zod, valibot,
 * arktype) call `parseOptions` instead, which reports problems the same way.
 *
 * Every rule reads a value and returns it (a default filled in where the rule has one), pushing a
 * `path: message` problem for what is wrong. Messages say what was expected, never the value given:
 * it may be a secret.
 */
import { MAX_TIMER_MS } from "../defaults.js";

/**
 * A rule: checks `value` at `path` (`retry.retries`; `""` for the options object itself), pushes
 * each problem as a `path: message` line and returns the value (or its default).
 */
export type Rule<T> = (value: unknown, problems: string[], path: string) => T;

/** The `code` of the `TypeError` {@link validate} and `parseOptions` throw for invalid options. */
export const INVALID_OPTIONS_CODE = "ERR_TOKENKEEP_INVALID_OPTIONS";

/** A `path: message` problem line. */
export const problem = (path: string, message: string): string => `${path || "(options)"}: ${message}`;

/**
 * The programmer error for invalid options: a `TypeError` with `code` {@link INVALID_OPTIONS_CODE},
 * the problem lines as `cause`, and the message `invalid <factoryName> options: <problems>`.
 */
export function invalidOptions(factoryName: string, problems: readonly string[]): TypeError {
  return Object.assign(
    new TypeError(`invalid ${factoryName} options: ${problems.join("; ")}`, { cause: problems }),
    { code: INVALID_OPTIONS_CODE },
  );
}

/** Runs `rule` on `value`: the output, and the problems as `path: message` lines (none when valid). */
export function runRule<T>(rule: Rule<T>, value: unknown): { value: T; problems: string[] } {
  const problems: string[] = [];
  return { value: rule(value, problems, ""), problems };
}

/**
 * Validates the options of a factory once, at its boundary: runs `rule` on `input` (`undefined` and
 * `null` read as `{}`), then `check` on the result for rules one shape cannot say well (one option
 * required by another). Throws {@link invalidOptions} listing every problem; returns the options
 * with defaults filled in.
 */
export function validate<T>(
  rule: Rule<T>,
  input: unknown,
  factoryName: string,
  check?: (options: T) => readonly string[],
): T {
  // As `runRule`, written out: the manager's entry ships `validate` alone.
  const problems: string[] = [];
  const output = rule(input ?? {}, problems, "");
  if (!problems.length && check) problems.push(...check(output));
  if (problems.length) throw invalidOptions(factoryName, problems);
  return output;
}

/** What a rule produces. */
export type RuleOutput<R> = R extends Rule<infer T> ? T : never;

/** A rule from a predicate and the message when it fails. */
export function check<T>(test: (value: unknown) => boolean, expected: string): Rule<T> {
  return (value, problems, path) => {
    if (!test(value)) problems.push(problem(path, expected));
    return value as T;
  };
}

/** `undefined` passes (as `fallback` when given); anything else must pass `rule`. */
export function optional<T>(rule: Rule<T>): Rule<T | undefined>;
export function optional<T>(rule: Rule<T>, fallback: T): Rule<T>;
export function optional<T>(rule: Rule<T>, fallback?: T): Rule<T | undefined> {
  return (value, problems, path) => (value === undefined ? fallback : rule(value, problems, path));
}

/** An object rule that reads `undefined` as `{}`, so the defaults inside it apply. */
export function defaulted<T>(rule: Rule<T>): Rule<T> {
  return (value, problems, path) => rule(value === undefined ? {} : value, problems, path);
}

/** A function. */
export const func = <F extends (...args: never[]) => unknown>(): Rule<F> =>
  check((value) => typeof value === "function", "expected a function");

/** A string; with `minLength` 1 it must not be empty. */
export const string =
  (minLength = 0): Rule<string> =>
  (value, problems, path) => {
    if (typeof value !== "string") problems.push(problem(path, "expected string"));
    else if (value.length < minLength) problems.push(problem(path, "must not be empty"));
    return value as string;
  };

/** Bounds of {@link number}. */
export interface NumberBounds {
  /** Lowest allowed value (inclusive). */
  readonly min?: number;
  /** Values must be above it (exclusive). */
  readonly above?: number;
  /** Highest allowed value (inclusive). */
  readonly max?: number;
  /** Whole numbers only. */
  readonly int?: boolean;
}

/** A finite number within `bounds`. */
export const number = ({ min = -Infinity, above, max = Infinity, int }: NumberBounds = {}): Rule<number> =>
  check(
    (value) =>
      typeof value === "number" &&
      (int ? Number.isInteger(value) : Number.isFinite(value)) &&
      value >= min &&
      value <= max &&
      // `value <= undefined` is false: no `above`, no bound.
      !(value <= above!),
    `expected ${int ? "an integer" : "a number"} ${[
      min > -Infinity && `>= ${min}`,
      above !== undefined && `> ${above}`,
      max < Infinity && `<= ${max}`,
    ]
      .filter(Boolean)
      .join(" and ")}`.trim(),
  );

/**
 * A delay or timeout in ms: a finite number above 0 (or >= 0 with `{ zero: true }`) and at most
 * `MAX_TIMER_MS`, the longest a timer can wait (a longer one fires at once in every runtime).
 */
export const duration = ({ zero = false }: { readonly zero?: boolean } = {}): Rule<number> =>
  number(zero ? { min: 0, max: MAX_TIMER_MS } : { above: 0, max: MAX_TIMER_MS });

/** One of `values`. */
export const oneOf = <const T extends string>(values: readonly T[]): Rule<T> =>
  check(
    (value) => values.includes(value as T),
    `expected one of ${values.map((value) => JSON.stringify(value)).join(", ")}`,
  );

/** A non-null object that is not an array. */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** An object with the methods `names`. */
export const methods = <T>(names: readonly string[], expected: string): Rule<T> =>
  check((value) => isObject(value) && names.every((name) => typeof value[name] === "function"), expected);

/** Edit distance between two short strings (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let row = [...Array(b.length + 1).keys()];
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + +(a[i - 1] !== b[j - 1]));
    }
    row = next;
  }
  return row[b.length]!;
}

/** The known key closest to `key` (case-insensitively), when it is close enough to be a typo. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  // A typo is within half the key's length (at least 2 edits): `timout` finds `timeoutMs`.
  let bestDistance = Math.max(2, Math.ceil(key.length / 2)) + 1;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/**
 * The problem lines for the keys of `value` that are not in `known`: "unknown option `skewMS` - did
 * you mean `skewMs`?". Key names are shown (they are the caller's code), never values.
 */
export function unknownKeys(
  value: Record<string, unknown>,
  known: readonly string[],
  path: string,
): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = nearestKey(key, known);
    problems.push(problem(path, `unknown option \`${key}\`${near ? ` - did you mean \`${near}\`?` : ""}`));
  }
  return problems;
}

/**
 * An object whose fields follow `shape`. A key the shape does not know is a problem naming the
 * nearest known key (a misspelt option is never silently ignored). The result holds every field of
 * the shape (its default when absent).
 */
export function object<S extends Record<string, Rule<unknown>>>(
  shape: S,
): Rule<{ [K in keyof S]: RuleOutput<S[K]> }> {
  const known = Object.keys(shape);
  return (value, problems, path) => {
    if (!isObject(value)) {
      problems.push(problem(path, "expected object"));
      return value as never;
    }
    problems.push(...unknownKeys(value, known, path));
    const result: Record<string, unknown> = {};
    for (const key in shape) {
      const field = shape[key]!(value[key], problems, path ? `${path}.${key}` : key);
      if (field !== undefined) result[key] = field;
    }
    return result as never;
  };
}

/**
 * Like {@link object}, for data rather than options (a server's metadata document): keys the shape
 * does not name are allowed and kept as they are.
 */
export function looseObject<S extends Record<string, Rule<unknown>>>(
  shape: S,
): Rule<{ [K in keyof S]: RuleOutput<S[K]> } & Record<string, unknown>> {
  return (value, problems, path) => {
    if (!isObject(value)) {
      problems.push(problem(path, "expected object"));
      return value as never;
    }
    const result: Record<string, unknown> = { ...value };
    for (const key in shape) {
      const field = shape[key]!(value[key], problems, path ? `${path}.${key}` : key);
      if (field !== undefined) result[key] = field;
    }
    return result as never;
  };
}

/** An array whose every item follows `rule`. */
export function array<T>(rule: Rule<T>): Rule<T[]> {
  return (value, problems, path) => {
    if (!Array.isArray(value)) {
      problems.push(problem(path, "expected array"));
      return value as never;
    }
    return value.map((item, index) => rule(item, problems, `${path}.${index}`));
  };
}

/** An object used as a map: every value follows `rule`. */
export function record<T>(rule: Rule<T>): Rule<Record<string, T>> {
  return (value, problems, path) => {
    if (!isObject(value)) {
      problems.push(problem(path, "expected object"));
      return value as never;
    }
    const result: Record<string, T> = {};
    for (const [key, item] of Object.entries(value))
      result[key] = rule(item, problems, path ? `${path}.${key}` : key);
    return result;
  };
}
