import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { backoffDelayMs, isNeverSentError, type ResolvedRetryPolicy } from "./retry-policy";

const policy: ResolvedRetryPolicy = {
  limit: 3,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  statusCodes: [408, 429, 500, 502, 503, 504],
};

describe("backoffDelayMs", () => {
  it("doubles from 1 s, jittered within the upper half of each step", () => {
    expect([1, 2, 3].map((retry) => backoffDelayMs(retry, policy, () => 0))).toEqual([500, 1_000, 2_000]);
    expect([1, 2, 3].map((retry) => backoffDelayMs(retry, policy, () => 0.999999))).toEqual([
      expect.closeTo(1_000, 0),
      expect.closeTo(2_000, 0),
      expect.closeTo(4_000, 0),
    ]);
  });

  it("is capped at maxDelayMs", () => {
    expect(backoffDelayMs(10, policy, () => 0.999999)).toBeCloseTo(30_000, 0);
    expect(backoffDelayMs(10, policy, () => 0)).toBe(15_000);
  });
});

describe("isNeverSentError", () => {
  it("recognises a refused connection from the runtime's fetch", async () => {
    // A port that was just free: nothing listens there any more.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const error = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(isNeverSentError(error)).toBe(true);
  });

  it("does not treat a reset or an unknown error as never sent", () => {
    const reset = new TypeError("fetch failed", {
      cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
    });
    expect(isNeverSentError(reset)).toBe(false);
    expect(isNeverSentError(new Error("boom"))).toBe(false);
    expect(isNeverSentError("ECONNREFUSED")).toBe(false);
  });
});
