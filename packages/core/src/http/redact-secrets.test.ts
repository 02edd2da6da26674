import { describe, expect, it } from "vitest";
import { redactSecrets } from "./redact-secrets.js";

describe("redactSecrets", () => {
  // Base64 with `+`, `/` and `=`, and a space and a `*`: characters the encodings treat differently.
  const secret = "pat_AbCdEfGhIjKlMnOpQrStU.q7+/Vw0x y*Z=";

  it("removes a secret in clear, every occurrence", () => {
    expect(redactSecrets(`a ${secret} b ${secret}`, [secret])).toBe("a [redacted] b [redacted]");
  });

  it("removes a secret as a form body or a URL carried it, with hex digits in either case", () => {
    const form = new URLSearchParams({ client_secret: secret }).toString().slice("client_secret=".length);
    expect(form).toBe("pat_AbCdEfGhIjKlMnOpQrStU.q7%2B%2FVw0x+y*Z%3D"); // what the request body held
    const lower = form.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase());
    const uri = encodeURIComponent(secret);
    for (const echoed of [form, lower, uri]) {
      expect(redactSecrets(`invalid request: client_secret=${echoed}&x=1`, [secret])).toBe(
        "invalid request: client_secret=[redacted]&x=1",
      );
    }
  });

  it("leaves other text alone and ignores empty secrets", () => {
    expect(redactSecrets("nothing to hide", [secret, ""])).toBe("nothing to hide");
  });
});
