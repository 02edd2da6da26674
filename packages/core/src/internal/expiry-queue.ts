/**
 * The expiry queue: a binary min-heap of items ordered by `expiresAt`, kept in a plain array. The
 * memory store uses it to find its expired entries without scanning them all: `pushExpiring` and
 * `popExpiring` take O(log n). A sorted array is a valid heap, so a queue is rebuilt by sorting
 * (`rebuildExpiring`).
 */

/** An item the queue orders. */
export interface Expiring {
  readonly expiresAt: number;
}

/** Adds `item` to the heap `queue`. */
export function pushExpiring<T extends Expiring>(queue: T[], item: T): void {
  let index = queue.push(item) - 1;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    const above = queue[parent]!;
    if (above.expiresAt <= item.expiresAt) break;
    queue[index] = above;
    index = parent;
  }
  queue[index] = item;
}

/** Removes and returns the item of `queue` that expires first (`undefined` when it is empty). */
export function popExpiring<T extends Expiring>(queue: T[]): T | undefined {
  const first = queue[0];
  const last = queue.pop();
  if (last === undefined || queue.length === 0) return first;
  let index = 0;
  for (;;) {
    let child = 2 * index + 1;
    if (child >= queue.length) break;
    if (child + 1 < queue.length && queue[child + 1]!.expiresAt < queue[child]!.expiresAt) child++;
    const below = queue[child]!;
    if (below.expiresAt >= last.expiresAt) break;
    queue[index] = below;
    index = child;
  }
  queue[index] = last;
  return first;
}

/**
 * A new queue of exactly `items`, in heap order: sorted by `expiresAt`, as a sorted array is a valid
 * heap. O(n log n). The memory store rebuilds its queue from the entries it holds when those it
 * replaced or removed since (still in the queue) outnumber a quarter of them.
 */
export function rebuildExpiring<T extends Expiring>(items: Iterable<T>): T[] {
  return [...items].sort((a, b) => a.expiresAt - b.expiresAt);
}
