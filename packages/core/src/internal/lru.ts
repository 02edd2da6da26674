/**
 * Bounded maps. `setRecent` keeps the most recently set (or touched) keys of a `Map` (strict LRU:
 * callers re-set a key to mark it used). `boundedSet` is the manager's hot-path variant:
 * second-chance ("clock") eviction, an LRU approximation whose hit path is a
 * single property write (`value.hot = true`) instead of a delete and re-insert. When the map grows
 * past its bound, the oldest entries are scanned: a hot one is cleared and moved to the back, the
 * first cold one is evicted (never the entry just inserted). The map never holds more than `max`
 * entries after `boundedSet`.
 */

/** A value the bounded map can hold. */
export interface Hot {
  /** Set on every use; cleared when the eviction scan passes it. */
  hot: boolean;
}

/** Inserts `value` (cold: not used yet) under `key`, evicting to stay within `max`. */
export function boundedSet<V extends Hot>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  value.hot = false;
  map.set(key, value);
  while (map.size > max) evictOne(map, key);
}

function evictOne<V extends Hot>(map: Map<string, V>, keep: string): void {
  // Entries moved to the back during the scan are visited again, cold, so this ends within size + 1 steps.
  for (const [key, value] of map) {
    map.delete(key);
    if (!value.hot && key !== keep) return;
    value.hot = false;
    map.set(key, value);
  }
}

/**
 * Inserts `value` under `key` as the most recent entry (a `Map` iterates in insertion order), then
 * drops the oldest entries until at most `max` remain.
 */
export function setRecent<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= max) break;
    map.delete(oldest);
  }
}
