import { redactSecrets } from "@tokenkeep/core/http";
import { describe, expect, it } from "vitest";
import { redactJson } from "./redact";

describe("redactJson", () => {
  const secret = "pat_abcdefghijklmnopqrstu.c2VjcmV0";

  it("removes secrets from every string of a JSON value, without touching the original", () => {
    const body = { error: { message: `got ${secret}`, details: { list: [secret, 1, null] } } };
    expect(redactJson(body, [secret])).toEqual({
      error: { message: "got [redacted]", details: { list: ["[redacted]", 1, null] } },
    });
    expect(body.error.message).toContain(secret);
  });

  it("redacts each string as core's redactSecrets does: a short secret where it stands alone", () => {
    // An apiKey is any non-empty string: a short one echoed by a server is still the caller's secret.
    expect(redactJson({ message: "bad token: abc1234." }, ["abc1234"])).toEqual({
      message: "bad token: [redacted].",
    });
    expect(redactJson(["client_secret=x%2By&"], ["x+y"])).toEqual(["client_secret=[redacted]&"]);
    expect(redactJson("the administrator", ["admin"])).toBe("the administrator");
    for (const text of ["a abc1234 b", "x%22abc1234%22", "administrator admin", `${secret}admin`]) {
      const secrets = ["abc1234", "admin", secret];
      expect(redactJson({ text }, secrets)).toEqual({ text: redactSecrets(text, secrets) });
    }
  });
});
