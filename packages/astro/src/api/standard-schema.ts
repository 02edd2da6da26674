/**
 * The part of the Standard Schema interface (https://standardschema.dev, v1) the API client uses:
 * zod 3.24+, zod 4, valibot, arktype and others implement it, so none of them is a dependency.
 */

/** A path segment as Standard Schema reports it. */
export type StandardPathSegment = PropertyKey | { readonly key: PropertyKey };

/** Any schema implementing Standard Schema v1, validating `unknown` into `Output`. */
export interface StandardSchema<Output = unknown> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: unknown; readonly output: Output } | undefined;
  };
}

/** A validation's result: the value, or the issues. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<StandardPathSegment> | undefined;
      }>;
    };

/** The output type of a schema. */
export type InferOutput<S> = S extends StandardSchema<infer O> ? O : unknown;

/** A reported path as dotted text (`items.0.id`; `""` for the root). */
export function dottedPath(path: ReadonlyArray<StandardPathSegment> | undefined): string {
  if (path === undefined) return "";
  return path
    .map((segment) => {
      const key = typeof segment === "object" && segment !== null ? segment.key : segment;
      return typeof key === "symbol" ? (key.description ?? "symbol") : String(key);
    })
    .join(".");
}
