/**
 * `T` with the `readonly` of its own properties removed, and of the arrays they hold (`roles`), as
 * `@access-tokens/client`'s parameter types had them; deeper values keep theirs.
 */
export type Writable<T> = { -readonly [K in keyof T]: WritableArray<T[K]> };

/** An array property's type as a mutable array; any other type as it is. */
type WritableArray<V> = V extends readonly (infer U)[] ? U[] : V;
