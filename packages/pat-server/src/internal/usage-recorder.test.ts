import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createSqliteStore } from "../sqlite/sqlite-store";
import type { PatStore, UsageEntry } from "../store";
import { createUsageRecorder } from "./usage-recorder";

const record = (tokenId: string) => ({
  tokenId,
  secretPhc: "x",
  owner: "o",
  isAdmin: false,
  roles: [],
  createdAt: 1,
  lastUsedAt: null,
  expiresAt: null,
  revokedAt: null,
});

describe("createUsageRecorder", () => {
  let store: PatStore;
  let writes: UsageEntry[][];

  beforeEach(async () => {
    vi.useFakeTimers();
    const real = createSqliteStore({ path: ":memory:" });
    await real.insert(record("a".repeat(21)));
    await real.insert(record("b".repeat(21)));
    writes = [];
    store = Object.assign(Object.create(real) as PatStore, {
      recordUsage: (entries: readonly UsageEntry[]) => {
        writes.push([...entries]);
        return real.recordUsage(entries);
      },
      close: () => real.close(),
    });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await store.close();
  });

  it("writes once per window, keeping the latest time per token", async () => {
    const recorder = createUsageRecorder({ store, flushMs: 5000, onError: () => {} });
    recorder.record("a".repeat(21), 10);
    recorder.record("a".repeat(21), 12);
    recorder.record("b".repeat(21), 11);
    recorder.record("a".repeat(21), 9);
    expect(writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(writes).toEqual([
      [
        { tokenId: "a".repeat(21), lastUsedAt: 12 },
        { tokenId: "b".repeat(21), lastUsedAt: 11 },
      ],
    ]);
    expect((await store.get("a".repeat(21)))?.lastUsedAt).toBe(12);
  });

  it("flushes what is pending on close", async () => {
    const recorder = createUsageRecorder({ store, flushMs: 60_000, onError: () => {} });
    recorder.record("b".repeat(21), 20);
    await recorder.close();
    expect(writes).toHaveLength(1);
    expect((await store.get("b".repeat(21)))?.lastUsedAt).toBe(20);
  });

  it("keeps entries for the next flush when a write fails", async () => {
    const errors: unknown[] = [];
    let fail = true;
    const flaky = Object.assign(Object.create(store) as PatStore, {
      recordUsage: async (entries: readonly UsageEntry[]) => {
        if (fail) throw new Error("database away");
        return store.recordUsage(entries);
      },
    });
    const recorder = createUsageRecorder({ store: flaky, flushMs: 1000, onError: (e) => errors.push(e) });
    recorder.record("a".repeat(21), 30);
    await recorder.flush();
    expect(errors).toHaveLength(1);
    fail = false;
    await recorder.flush();
    expect((await store.get("a".repeat(21)))?.lastUsedAt).toBe(30);
  });
});

describe("createUsageRecorder after a failed write", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("tries again one window later by itself, without waiting for another exchange", async () => {
    vi.useFakeTimers();
    const real = createSqliteStore({ path: ":memory:" });
    await real.insert(record("c".repeat(21)));
    let fail = true;
    const errors: unknown[] = [];
    const flaky = Object.assign(Object.create(real) as PatStore, {
      recordUsage: async (entries: readonly UsageEntry[]) => {
        if (fail) throw new Error("database away");
        return real.recordUsage(entries);
      },
    });
    const recorder = createUsageRecorder({ store: flaky, flushMs: 1000, onError: (e) => errors.push(e) });
    try {
      recorder.record("c".repeat(21), 40); // the only exchange: nothing else will arm the timer
      await vi.advanceTimersByTimeAsync(1000);
      expect(errors).toHaveLength(1);
      fail = false;
      await vi.advanceTimersByTimeAsync(1000);
      expect((await real.get("c".repeat(21)))?.lastUsedAt).toBe(40);
      expect(errors).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(0); // nothing pending: no timer left behind
    } finally {
      await recorder.close();
      await real.close();
    }
  });
});

describe("createUsageRecorder with an onError that throws", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps writing: the listener's failure neither stops later writes nor rejects a flush", async () => {
    vi.useFakeTimers();
    const real = createSqliteStore({ path: ":memory:" });
    await real.insert(record("d".repeat(21)));
    let fail = true;
    const flaky = Object.assign(Object.create(real) as PatStore, {
      recordUsage: async (entries: readonly UsageEntry[]) => {
        if (fail) throw new Error("database away");
        return real.recordUsage(entries);
      },
    });
    const onError = vi.fn(() => {
      throw new Error("the logger failed");
    });
    const recorder = createUsageRecorder({ store: flaky, flushMs: 1000, onError });
    try {
      recorder.record("d".repeat(21), 50);
      await expect(recorder.flush()).resolves.toBeUndefined();
      expect(onError).toHaveBeenCalledTimes(1);
      fail = false;
      await vi.advanceTimersByTimeAsync(1000); // the retry the failure armed
      expect((await real.get("d".repeat(21)))?.lastUsedAt).toBe(50);
      recorder.record("d".repeat(21), 60);
      await expect(recorder.flush()).resolves.toBeUndefined();
      expect((await real.get("d".repeat(21)))?.lastUsedAt).toBe(60);
    } finally {
      await recorder.close();
      await real.close();
    }
  });
});
