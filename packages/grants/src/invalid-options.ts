/** The `code` of the `TypeError` a creator throws when an option is wrong. */
export const INVALID_OPTIONS = "ERR_TOKENKEEP_INVALID_OPTIONS";

/**
 * A bad option: a programmer error, thrown once when a creator is made, not at the first request.
 * The message and the `cause` list every problem as `path: message`; no option value (which may be a
 * secret) is ever included.
 */
export function invalidOptions(factory: string, problems: readonly string[]): TypeError & { code: string } {
  const error = new TypeError(`invalid ${factory} options: ${problems.join("; ")}`, { cause: problems });
  return Object.assign(error, { code: INVALID_OPTIONS });
}
