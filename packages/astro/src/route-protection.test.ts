import { describe, expect, it } from "vitest";
import {
  isProtected,
  patternCovers,
  patternsOverlap,
  requiresSession,
  safeReturnTo,
} from "./route-protection.js";

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

  it("an exclusion wins over any protected pattern", () => {
    const protect = { paths: ["/account/*", "/account/help"], exclude: ["/account/help"] };
    expect(requiresSession("/account/help", protect)).toBe(false);
    expect(requiresSession("/account/help/", protect)).toBe(false);
    expect(requiresSession("/account/help/x", protect)).toBe(true);
    expect(requiresSession("/account", protect)).toBe(true);
    expect(requiresSession("/account", { paths: ["/account/*"] })).toBe(true);
  });

  it("tells overlapping and covering patterns apart", () => {
    expect(patternsOverlap("/account/help", "/account/*")).toBe(true);
    expect(patternsOverlap("/account/*", "/account/help")).toBe(true);
    expect(patternsOverlap("/*", "/x")).toBe(true);
    expect(patternsOverlap("/account/help/*", "/account/*")).toBe(true);
    expect(patternsOverlap("/accounting/*", "/account/*")).toBe(false);
    expect(patternsOverlap("/help", "/account/*")).toBe(false);
    expect(patternCovers("/account/*", "/account/help/*")).toBe(true);
    expect(patternCovers("/account/*", "/account")).toBe(true);
    expect(patternCovers("/account/help/*", "/account/*")).toBe(false);
    expect(patternCovers("/account/help", "/account/*")).toBe(false);
    expect(patternCovers("/settings", "/settings")).toBe(true);
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
