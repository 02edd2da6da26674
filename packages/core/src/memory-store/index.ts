/**
 * @packageDocumentation
 * `@tokenkeep/core/memory-store`: the in-process {@link Store}, bounded and with leases. The rotation
 * coordinator uses it when given no store; the token manager needs none (its cache is built in).
 */

export type { LeaseRelease, Store } from "../store/store.js";
export { createMemoryStore, type MemoryStore, type MemoryStoreOptions } from "./memory-store.js";
