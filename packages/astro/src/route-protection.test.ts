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
      "",
      null,
      undefined,
    ]) {
      expect(safeReturnTo(hostile, "/home")).toBe("/home");
    }
  });
});
