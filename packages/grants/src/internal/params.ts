import type { TokenIdentity } from "@tokenkeep/core";

/** Joins a scope list with spaces (RFC 6749 section 3.3); an empty scope is left out. */
export function scopeParam(scope: string | readonly string[] | undefined): string | undefined {
  if (scope === undefined) return undefined;
  const joined = typeof scope === "string" ? scope.trim() : scope.join(" ");
  return joined === "" ? undefined : joined;
}

/** A resource list, always as an array: forms repeat `resource=`, JSON bodies send an array. */
export function resourceParam(
  resource: string | readonly string[] | undefined,
): readonly string[] | undefined {
  if (resource === undefined) return undefined;
  const list = typeof resource === "string" ? [resource] : resource;
  return list.length === 0 ? undefined : list;
}

/** A string or string-list field of the manager's identity, when it has one. */
export function identityField(
  identity: TokenIdentity | undefined,
  name: string,
): string | readonly string[] | undefined {
  const value = identity?.[name];
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((item) => typeof item === "string"))
    return value as readonly string[];
  return undefined;
}
