import { sha256Hex } from "../internal/sha256.js";
import type { TokenIdentity } from "../token/token-creator.js";

/**
 * Identity: what a token is for, turned into the one string the manager caches and single-flights
 * on. Two identities that ask for the same thing get the same key: property order does not matter,
 * `undefined` properties are ignored, arrays are sets (order and duplicates ignored) and a `scope`
 * string is a space-delimited set. Keying on every property (client, scope, resource, subject...)
 * is what keeps one caller from being handed another caller's token.
 */

/** The key of the default identity (no identity, or an empty one). */
export const DEFAULT_IDENTITY_KEY = "";

function asSet(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** The canonical key of `identity`. Computed on every call: identities may be mutable objects. */
export function identityKey(identity: TokenIdentity | undefined): string {
  if (identity === undefined) return DEFAULT_IDENTITY_KEY;
  let key = DEFAULT_IDENTITY_KEY;
  for (const name of Object.keys(identity).sort()) {
    let value: unknown = identity[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) value = asSet(value);
    else if (name === "scope" && typeof value === "string") value = asSet(value.split(/\s+/).filter(Boolean));
    key += `${key ? "," : ""}${JSON.stringify(name)}:${JSON.stringify(value)}`;
  }
  return key && `{${key}}`;
}

/**
 * A SHA-256 (hex) of an identity key: what store keys are made of, so shared stores hold no
 * client ids or subjects in clear and keys stay short.
 */
export const hashIdentityKey: (key: string) => Promise<string> = sha256Hex;
