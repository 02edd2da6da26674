import { describe, expect, it } from "vitest";
import { boundedSet, setRecent } from "./lru.js";

const item = () => ({ hot: false });

describe("boundedSet (second-chance eviction)", () => {
  it("never exceeds its bound and evicts the least recently used first", () => {
    const map = new Map<string, { hot: boolean }>();
    for (const key of ["a", "b", "c"]) boundedSet(map, key, item(), 3);
    // "a" is used, then a fourth key arrives: "b", the oldest unused, goes.
    map.get("a")!.hot = true;
    boundedSet(map, "d", item(), 3);
    expect(map.size).toBe(3);
    expect([...map.keys()].sort()).toEqual(["a", "c", "d"]);
  });
  it("keeps a frequently used entry through a stream of one-off keys", () => {
    const map = new Map<string, { hot: boolean }>();
    boundedSet(map, "hot", item(), 10);
    for (let i = 0; i < 1_000; i++) {
      map.get("hot")!.hot = true;
      boundedSet(map, `cold-${i}`, item(), 10);
      expect(map.size).toBeLessThanOrEqual(10);
    }
    expect(map.has("hot")).toBe(true);
  });
  it("never evicts the entry just inserted, even when every other one is hot", () => {
    const map = new Map<string, { hot: boolean }>();
    for (const key of ["a", "b"]) boundedSet(map, key, item(), 2);
    for (const value of map.values()) value.hot = true;
    boundedSet(map, "c", item(), 2);
    expect(map.has("c")).toBe(true);
    expect(map.size).toBe(2);
  });
  it("replaces an existing key in place", () => {
    const map = new Map<string, { hot: boolean; v?: number }>();
    boundedSet(map, "a", { hot: false, v: 1 }, 1);
    boundedSet(map, "a", { hot: false, v: 2 }, 1);
    expect([...map.values()]).toEqual([{ hot: false, v: 2 }]);
  });
});

describe("setRecent (strict LRU by re-insertion)", () => {
  it("keeps the most recently set keys and never exceeds its bound", () => {
    const map = new Map<string, number>();
    for (const [index, key] of ["a", "b", "c"].entries()) setRecent(map, key, index, 3);
    setRecent(map, "a", 10, 3); // re-set: "a" becomes the most recent
    setRecent(map, "d", 3, 3);
    expect([...map.entries()]).toEqual([
      ["c", 2],
      ["a", 10],
      ["d", 3],
    ]);
    setRecent(map, "e", 4, 1);
    expect([...map.keys()]).toEqual(["e"]);
  });
});
