/**
 * @packageDocumentation
 * `@tokenkeep/core/options`: option validation for packages that build on core (grants, stores),
 * so every tokenkeep factory reports bad options the same way: `validate` with the small rules
 * core itself uses, or `parseOptions` with any synchronous Standard Schema (zod, valibot, arktype...).
 * Both reject unknown keys, naming the nearest known one (a zod object taking other keys, such as a
 * `looseObject` or one with a `catchall`, leaves them to its schema).
 */

// Named exports, not a namespace object: a bundle keeps only the rules it uses. Import them as
// `import * as rules from "@tokenkeep/core/options"` to read `rules.object(...)`.
export { MAX_TIMER_MS } from "../defaults.js";
export { parseOptions, type StandardSchemaV1 } from "./parse-options.js";
export {
  array,
  check,
  defaulted,
  duration,
  func,
  INVALID_OPTIONS_CODE,
  invalidOptions,
  isObject,
  looseObject,
  methods,
  type NumberBounds,
  number,
  object,
  oneOf,
  optional,
  problem,
  type Rule,
  type RuleOutput,
  record,
  runRule,
  string,
  validate,
} from "./rules.js";
// Not exported: the edit-distance helpers behind "did you mean" (internal to `object`/`parseOptions`).
