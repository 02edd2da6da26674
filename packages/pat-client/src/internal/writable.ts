/** `T` with the `readonly` of its own properties removed (nested values keep theirs). */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };
