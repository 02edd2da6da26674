import { isTokenkeepError, type TokenkeepError } from "@tokenkeep/core";

/**
 * Code of a Redis failure that is neither a timeout (`ERR_TOKENKEEP_TIMEOUT`) nor an unreachable
 * server (`ERR_TOKENKEEP_NETWORK`): an error reply such as `NOAUTH`, `OOM` or `READONLY`.
 */
export const STORE_ERROR_CODE = "ERR_TOKENKEEP_STORE";

/** True for a Redis error reply wrapped by the store (code {@link STORE_ERROR_CODE}), from any install. */
export function isStoreError(value: unknown): value is TokenkeepError {
  return isTokenkeepError(value) && value.code === STORE_ERROR_CODE;
}
