/**
 * Windows: a value remembered per key until a moment, bounded to `max` keys (the oldest dropped
 * first). The manager's throttle windows and its failure memory are both this.
 */
import { boundedSet, type Hot } from "./lru.js";

export interface Windows<T> {
  /** The value of `key` while its window is open at `now`; `undefined` after (and it is dropped). */
  get(key: string, now: number): { readonly value: T; readonly until: number } | undefined;
  /** Opens (or replaces) the window of `key` until `until`. */
  open(key: string, value: T, until: number): void;
  close(key: string): void;
  clear(): void;
}

export function createWindows<T>(max: number): Windows<T> {
  // Never marked hot: `boundedSet` then evicts the oldest, as a strict LRU of insertions.
  const windows = new Map<string, Hot & { readonly value: T; readonly until: number }>();
  return {
    get(key, now) {
      const window = windows.get(key);
      if (window === undefined || window.until > now) return window;
      windows.delete(key);
      return undefined;
    },
    open(key, value, until) {
      boundedSet(windows, key, { value, until, hot: false }, max);
    },
    close: (key) => windows.delete(key),
    clear: () => windows.clear(),
  };
}
