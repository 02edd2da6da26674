import { describe, expect, it } from "vitest";
import { redactJson, redactText } from "./redact";

describe("redaction", () => {
  const secret = "pat_abcdefghijklmnopqrstu.c2VjcmV0";

  it("removes every occurrence of a secret from text", () => {
    expect(redactText(`a ${secret} b ${secret}`, [secret])).toBe("a [redacted] b [redacted]");
  });

  it("ignores secrets too short to be one (they would mangle ordinary words)", () => {
    expect(redactText("the admin", ["admin"])).toBe("the admin");
  });

  it("removes secrets from every string of a JSON value, without touching the original", () => {
    const body = { error: { message: `got ${secret}`, details: { list: [secret, 1, null] } } };
    expect(redactJson(body, [secret])).toEqual({
      error: { message: "got [redacted]", details: { list: ["[redacted]", 1, null] } },
    });
    expect(body.error.message).toContain(secret);
  });
});
