import { describe, expect, it } from "vitest";
import { isProtected, safeReturnTo } from "./route-protection.js";

describe("route protection", () => {
  it("matches exact paths and /prefix/* patterns, not look-alikes", () => {
    const paths = ["/account/*", "/settings"];
    expect(isProtected("/account", paths)).toBe(true);
    expect(isProtected("/account/", paths)).toBe(true);
    expect(isProtected("/account/orders/1", paths)).toBe(true);
    expect(isProtected("/accounting", paths)).toBe(false);
    expect(isProtected("/settings", paths)).toBe(true);
    expect(isProtected("/settings/", paths)).toBe(true);
    expect(isProtected("/settings/x", paths)).toBe(false);
    expect(isProtected("/", paths)).toBe(false);
  });

  it("returnTo accepts same-origin paths only (no open redirect)", () => {
    expect(safeReturnTo("/account/orders?page=2#top")).toBe("/account/orders?page=2#top");
    expect(safeReturnTo("/")).toBe("/");
    for (const hostile of [
      "//evil.test/x",
      "/\\evil.test",
      "/\\/evil.test",
      "https://evil.test/",
      "javascript:alert(1)",
      "evil.test",
      "/\t/evil.test",
      "/%0a/x\u0000",
      // Dot segments that resolve to a path starting with `//` (another origin to a browser).
      "/.//evil.test",
      "/..//evil.test/phish",
      "/a/..//evil.test",
      "/%2e%2e//evil.test",
      "/%2E//evil.test",
      "",
      null,
      undefined,
    ]) {
      expect(safeReturnTo(hostile, "/home")).toBe("/home");
    }
  });
});
