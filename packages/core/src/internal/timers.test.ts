import { describe, expect, it } from "vitest";
import { createTimerSet, runtimeTimers, type Timers } from "./timers.js";

describe("createTimerSet", () => {
  it("unrefs every handle when the runtime offers unref", () => {
    const handles: { unref: () => void; unrefed: boolean }[] = [];
    const timers: Timers = {
      setTimeout: () => {
        const handle = {
          unrefed: false,
          unref() {
            handle.unrefed = true;
          },
        };
        handles.push(handle);
        return handle;
      },
      clearTimeout: () => {},
    };
    const set = createTimerSet(timers);
    set.schedule(() => {}, 10);
    void set.sleep(10, new AbortController().signal);
    expect(handles.map((handle) => handle.unrefed)).toEqual([true, true]);
  });

  it("unrefs the runtime's own timers (a pending token refresh never keeps the process alive)", () => {
    const set = createTimerSet(runtimeTimers());
    let handle: unknown;
    const timers = runtimeTimers();
    const spy: Timers = {
      setTimeout: (callback, ms) => {
        handle = timers.setTimeout(callback, ms);
        return handle;
      },
      clearTimeout: timers.clearTimeout,
    };
    const tracked = createTimerSet(spy);
    const cancel = tracked.schedule(() => {}, 60_000);
    expect((handle as { hasRef(): boolean }).hasRef()).toBe(false);
    cancel();
    set.clear();
  });

  it("refs every pending timer while a caller waits (hold), and unrefs them when the last wait ends", async () => {
    const handles: { refed: boolean }[] = [];
    const set = createTimerSet({
      setTimeout: () => {
        const handle = {
          refed: true,
          ref() {
            handle.refed = true;
          },
          unref() {
            handle.refed = false;
          },
        };
        handles.push(handle);
        return handle;
      },
      clearTimeout: () => {},
    });
    const refs = () => handles.map((handle) => handle.refed);
    set.schedule(() => {}, 10); // a background timer, before anyone waits
    expect(refs()).toEqual([false]);

    let endFirst!: () => void;
    let failSecond!: (error: Error) => void;
    const first = set.hold(new Promise<void>((resolve) => (endFirst = resolve)));
    expect(refs()).toEqual([true]);
    set.schedule(() => {}, 10); // scheduled while a caller waits: left ref'd
    const second = set.hold(new Promise<void>((_, reject) => (failSecond = reject)));
    expect(refs()).toEqual([true, true]);

    endFirst();
    await first;
    expect(refs()).toEqual([true, true]); // the second caller still waits
    failSecond(new Error("no token"));
    await expect(second).rejects.toThrow("no token"); // hold returns the promise itself
    expect(refs()).toEqual([false, false]);
    set.schedule(() => {}, 10);
    expect(refs()).toEqual([false, false, false]);
  });

  it("a caller's wait refs the runtime's own timers, and only for as long as it waits", async () => {
    const timers = runtimeTimers();
    const handles: { hasRef(): boolean }[] = [];
    const set = createTimerSet({
      setTimeout: (callback, ms) => {
        const handle = timers.setTimeout(callback, ms) as { hasRef(): boolean };
        handles.push(handle);
        return handle;
      },
      clearTimeout: timers.clearTimeout,
    });
    set.schedule(() => {}, 60_000);
    let end!: () => void;
    const waited = set.hold(new Promise<void>((resolve) => (end = resolve)));
    const sleeping = set.sleep(60_000, new AbortController().signal);
    expect(handles.map((handle) => handle.hasRef())).toEqual([true, true]);
    end();
    await waited;
    expect(handles.map((handle) => handle.hasRef())).toEqual([false, false]);
    set.clear();
    void sleeping;
  });

  it("works with handles that have no unref (numbers, browsers)", async () => {
    let next = 0;
    const pending = new Map<number, () => void>();
    const set = createTimerSet({
      setTimeout: (callback) => {
        pending.set(++next, callback);
        return next;
      },
      clearTimeout: (handle) => pending.delete(handle as number),
    });
    let fired = 0;
    set.schedule(() => fired++, 5);
    set.schedule(() => fired++, 5);
    expect(pending.size).toBe(2);
    set.clear();
    expect(pending.size).toBe(0);
    expect(fired).toBe(0);
  });

  it("sleep rejects with the signal's reason when aborted and clears its timer", async () => {
    const cleared: unknown[] = [];
    const set = createTimerSet({ setTimeout: () => 7, clearTimeout: (handle) => cleared.push(handle) });
    const controller = new AbortController();
    const sleeping = set.sleep(1_000, controller.signal);
    controller.abort(new Error("disposed"));
    await expect(sleeping).rejects.toThrow("disposed");
    expect(cleared).toEqual([7]);
  });
});
