/**
 * @packageDocumentation
 * `@tokenkeep/core/shared`: token managers (and rotation coordinators) in several processes sharing
 * one store (`@tokenkeep/redis`), so a fleet fetches each token once and redeems each refresh token
 * once. A single process needs none of this, so it lives here rather than in the manager's entry.
 */

export type { LeaseRelease, Store } from "../store/store.js";
export { type ShareStoreOptions, shareStore } from "./share-store.js";
export type {
  Obtained,
  SharedStore,
  SharedStoreContext,
  SharedStoreSession,
  SharedStoreSettings,
  SharedStoreState,
} from "./shared-store.js";
