import { describe, expect, it } from "vitest";
import { createWindows } from "./windows.js";

describe("windows", () => {
  it("returns a value while its window is open, then forgets it", () => {
    const windows = createWindows<string>(10);
    windows.open("k", "v", 1_000);
    expect(windows.get("k", 400)).toMatchObject({ value: "v", until: 1_000 });
    expect(windows.get("other", 400)).toBeUndefined();
    expect(windows.get("k", 1_000)).toBeUndefined();
    windows.open("k", "v", 2_000);
    windows.close("k");
    expect(windows.get("k", 0)).toBeUndefined();
  });
  it("holds at most its bound of windows", () => {
    const windows = createWindows<number>(2);
    windows.open("a", 1, 100);
    windows.open("b", 2, 100);
    windows.open("c", 3, 100);
    expect(["a", "b", "c"].map((key) => windows.get(key, 0)?.value)).toEqual([undefined, 2, 3]);
  });
});
