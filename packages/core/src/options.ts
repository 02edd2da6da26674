/**
 * @packageDocumentation
 * `@tokenkeep/core/options`: option validation for packages that build on core (grants, stores),
 * so every tokenkeep factory reports bad options the same way: `rules.validate` with the small rules
 * core itself uses, or `parseOptions` with any synchronous Standard Schema (zod, valibot, arktype...).
 */

export { parseOptions } from "./parse-options.js";
export * as rules from "./rules.js";
export { INVALID_OPTIONS_CODE, type Rule, type RuleOutput, type StandardSchemaV1 } from "./rules.js";
