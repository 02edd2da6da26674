import type { PatStore } from "../store";

/** Options of {@link createUsageRecorder}. */
export interface UsageRecorderOptions {
  readonly store: PatStore;
  /** Writes are coalesced for this long, then written in one batch. 0 writes at once. */
  readonly flushMs: number;
  /**
   * Called when a batched write fails. The entries are kept and written again one window later (or at
   * the next use when `flushMs` is 0), until the recorder is closed. What it throws is ignored.
   */
  readonly onError: (error: unknown) => void;
}

/** Coalesces `lastUsedAt` writes: at most one batched write per window, whatever the request rate. */
export interface UsageRecorder {
  record(tokenId: string, lastUsedAt: number): void;
  /** Writes what is pending now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

/** Creates a {@link UsageRecorder}. */
export function createUsageRecorder(options: UsageRecorderOptions): UsageRecorder {
  const { store, flushMs, onError } = options;
  let pending = new Map<string, number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let closed = false;

  function arm(): void {
    if (timer !== undefined || closed || flushMs === 0) return;
    timer = setTimeout(() => void flush(), flushMs);
    timer.unref?.();
  }

  function flush(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    flushing = flushing.then(async () => {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      try {
        await store.recordUsage([...batch].map(([tokenId, lastUsedAt]) => ({ tokenId, lastUsedAt })));
      } catch (error) {
        for (const [tokenId, lastUsedAt] of batch) {
          if ((pending.get(tokenId) ?? -1) < lastUsedAt) pending.set(tokenId, lastUsedAt);
        }
        arm(); // the store may be back by then: do not wait for another exchange to try again
        try {
          onError(error);
        } catch {
          // A listener that throws must not reject this flush and every later one (they chain on it),
          // nor become an unhandled rejection from the timer's flush: the entries are kept all the same.
        }
      }
    });
    return flushing;
  }

  return {
    record(tokenId, lastUsedAt) {
      if ((pending.get(tokenId) ?? -1) < lastUsedAt) pending.set(tokenId, lastUsedAt);
      if (flushMs === 0) void flush();
      else arm();
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
  };
}
