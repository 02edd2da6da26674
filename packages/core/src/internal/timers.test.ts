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
