/**
 * @packageDocumentation
 * tokenkeep's store on Redis: one token fetch and one refresh-token rotation across every instance
 * of a service.
 */

export { DEFAULT_KEY_PREFIX, DEFAULT_TIMEOUT_MS } from "./defaults.js";
export { isStoreError, STORE_ERROR_CODE } from "./errors.js";
export type {
  RedisStoreAnyClient,
  RedisStoreClient,
  RedisStoreClusterClient,
  RedisStoreOptions,
  RedisStoreSentinelClient,
} from "./options.js";
export { createRedisStore, type RedisStore } from "./redis-store.js";
