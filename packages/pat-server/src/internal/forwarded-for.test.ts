import { describe, expect, it } from "vitest";
import { lastForwardedFor } from "./forwarded-for";

describe("lastForwardedFor", () => {
  it("takes the entry the proxy appended, not one the client sent", () => {
    expect(lastForwardedFor("203.0.113.9")).toBe("203.0.113.9");
    expect(lastForwardedFor("1.2.3.4, 5.6.7.8,  203.0.113.9 ")).toBe("203.0.113.9");
  });

  it("is undefined without a usable entry", () => {
    expect(lastForwardedFor(null)).toBeUndefined();
    expect(lastForwardedFor("")).toBeUndefined();
    expect(lastForwardedFor("1.2.3.4, ")).toBeUndefined();
  });
});
