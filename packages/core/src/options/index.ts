/**
 * @packageDocumentation
 * `@tokenkeep/core/options`: option validation for packages that build on core (grants, stores),
 * so every tokenkeep factory reports bad options the same way: `validate` with the small rules
 * core itself uses, or `parseOptions` with any synchronous Standard Schema (zod, valibot, arktype...).
 */

// Named exports, not a namespace object: a bundle keeps only the rules it uses. Import them as
// `import * as rules from "@tokenkeep/core/options"` to read `rules.object(...)`.
export { parseOptions, type StandardSchemaV1 } from "./parse-options.js";
export * from "./rules.js";
