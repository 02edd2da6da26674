import { describe, expect, it } from "vitest";
import { cookieValues, makeContext, setCookies } from "../test/helpers/context.js";
import { CHUNK_SIZE, deleteChunked, readChunked, splitValue, writeChunked } from "./cookie-chunks.js";

const options = {
  httpOnly: true,
  path: "/",
  sameSite: "lax",
  secure: false,
  encode: (v: string) => v,
} as const;

describe("cookie chunking", () => {
  it("keeps a value up to CHUNK_SIZE in one cookie and splits a longer one", () => {
    expect(splitValue("a".repeat(CHUNK_SIZE))).toHaveLength(1);
    const pieces = splitValue("a".repeat(CHUNK_SIZE * 2 + 1));
    expect(pieces.map((piece) => piece.length)).toEqual([CHUNK_SIZE, CHUNK_SIZE, 1]);
  });

  it("writes chunks that fit a browser's 4096-byte cookie limit, and reads them joined", () => {
    const value = "v".repeat(9000);
    const write = makeContext("http://app.test/");
    writeChunked(write.cookies, "tk", value, options);
    const headers = setCookies(write);
    expect(Object.keys(cookieValues(headers))).toEqual(["tk.0", "tk.1", "tk.2"]);
    for (const header of headers) expect(new TextEncoder().encode(header).length).toBeLessThan(4096);
    const read = makeContext("http://app.test/", { cookies: cookieValues(headers) });
    expect(readChunked(read.cookies, "tk")).toBe(value);
  });

  it("deletes the stale tail when the value shrinks, and the chunks when it fits in one cookie again", () => {
    const carried = { "tk.0": "a".repeat(CHUNK_SIZE), "tk.1": "b".repeat(CHUNK_SIZE), "tk.2": "c" };
    const shrink = makeContext("http://app.test/", { cookies: carried });
    writeChunked(shrink.cookies, "tk", "x".repeat(CHUNK_SIZE + 5), options);
    expect(cookieValues(setCookies(shrink))).toEqual({
      "tk.0": "x".repeat(CHUNK_SIZE),
      "tk.1": "xxxxx",
      "tk.2": "deleted",
    });

    const whole = makeContext("http://app.test/", { cookies: carried });
    writeChunked(whole.cookies, "tk", "small", options);
    expect(cookieValues(setCookies(whole))).toEqual({
      tk: "small",
      "tk.0": "deleted",
      "tk.1": "deleted",
      "tk.2": "deleted",
    });
  });

  it("deletes the whole cookie when the value becomes chunked", () => {
    const context = makeContext("http://app.test/", { cookies: { tk: "small" } });
    writeChunked(context.cookies, "tk", "y".repeat(CHUNK_SIZE + 1), options);
    expect(cookieValues(setCookies(context))).toEqual({
      tk: "deleted",
      "tk.0": "y".repeat(CHUNK_SIZE),
      "tk.1": "y",
    });
  });

  it("a deletion repeats path and flags, so it reaches the cookie", () => {
    const context = makeContext("http://app.test/", { cookies: { tk: "x", "tk.0": "y" } });
    deleteChunked(context.cookies, "tk", { ...options, secure: true, domain: "app.test" });
    const headers = setCookies(context);
    expect(headers).toHaveLength(2);
    for (const header of headers) {
      expect(header).toMatch(/Expires=Thu, 01 Jan 1970/);
      expect(header).toContain("Path=/");
      expect(header).toContain("Domain=app.test");
      expect(header).toContain("Secure");
    }
  });

  it("reads nothing when there is no cookie", () => {
    expect(readChunked(makeContext("http://app.test/").cookies, "tk")).toBeUndefined();
  });
});
