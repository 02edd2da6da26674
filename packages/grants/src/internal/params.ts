import type { TokenCreatorContext, TokenIdentity } from "@tokenkeep/core";
import * as rules from "@tokenkeep/core/options";

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

/** One audience as given, or a list of them (repeated in a form); an empty list is unset. */
export const audienceParam = (audience: string | readonly string[] | undefined) =>
  typeof audience === "string" ? audience : resourceParam(audience);

/** A string, or an array of strings. */
export const isStrings = (value: unknown): value is string | readonly string[] =>
  typeof value === "string" || (Array.isArray(value) && value.every((item) => typeof item === "string"));

/** A string or string-list field of the manager's identity, when it has one. */
export function identityField(
  identity: TokenIdentity | undefined,
  name: string,
): string | readonly string[] | undefined {
  const value = identity?.[name];
  return isStrings(value) ? value : undefined;
}

/**
 * A credential the creator sends (a subject token, an assertion): fixed, or read per request from the
 * creator's context (its `identity`, `signal` and `previous`).
 */
export type TokenSource = string | ((context: Partial<TokenCreatorContext>) => string | PromiseLike<string>);

/** A non-empty string or a function. */
export const tokenSourceRule = (): rules.Rule<TokenSource> =>
  rules.check(
    (value) => (typeof value === "string" && value !== "") || typeof value === "function",
    "expected a non-empty string or a function returning one",
  );

/** The value of a {@link TokenSource} for one request; a function must give a non-empty string. */
export async function readTokenSource(
  source: TokenSource,
  context: Partial<TokenCreatorContext>,
  name: string,
): Promise<string> {
  const value = typeof source === "string" ? source : await source(context);
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`${name}: the function returned no token (expected a non-empty string)`);
  }
  return value;
}
