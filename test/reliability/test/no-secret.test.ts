/**
 * The sweep behind "no secret anywhere" (scripts/run.mjs runs it over every run's output): it finds a
 * registered secret in clear, base64 (inside a longer encoded string too) and URL-encoded forms, in
 * any file of the output folder or in stdout, and names where without repeating the secret.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../src/fuzz";
import { expectNoSecretIn } from "../src/secret-assert";
import { findLeaks, mintSecret, registeredSecrets, sweep } from "../src/secrets";

describe("findLeaks", () => {
  it("finds a secret in clear, in Basic credentials, in a form body and in base64url, at any offset", async () => {
    await check(
      "findLeaks forms",
      fc.property(
        fc.string({ minLength: 12, maxLength: 40 }),
        fc.string({ maxLength: 9 }),
        fc.string({ maxLength: 9 }),
        (secret, before, after) => {
          const secrets = [{ label: "s", secret }];
          const texts = [
            { where: "clear", text: `${before}${secret}${after}` },
            {
              where: "basic",
              text: `Authorization: Basic ${Buffer.from(`${before}:${secret}`).toString("base64")}`,
            },
            { where: "form", text: `a=1&client_secret=${encodeURIComponent(secret)}&b=${before}` },
            { where: "form+", text: new URLSearchParams({ before, password: secret }).toString() },
            { where: "base64url", text: Buffer.from(`${before}${secret}${after}`).toString("base64url") },
          ];
          const found = findLeaks(secrets, texts).map((leak) => leak.where);
          expect(found).toEqual(["clear", "basic", "form", "form+", "base64url"]);
        },
      ),
    );
  });

  it("finds nothing in output that does not hold the secret, and never repeats the secret", () => {
    const secret = mintSecret("test secret", { odd: true });
    const leaks = findLeaks(
      [{ label: "test secret", secret }],
      [
        { where: "a", text: "token request failed: ECONNRESET" },
        { where: "b", text: `half of it: ${secret.slice(0, 8)}` },
        { where: "c", text: `client_secret=${encodeURIComponent(secret)}` },
      ],
    );
    expect(leaks).toEqual([{ label: "test secret", form: "url", where: "c" }]);
    expectNoSecretIn(JSON.stringify(leaks), secret.slice(0, 12), "the leaks found");
    expect(registeredSecrets()).toContain(secret);
  });
});

describe("sweep", () => {
  it("catches a planted leak in a server log, and passes the same folder without it", () => {
    const dir = mkdtempSync(join(tmpdir(), "tk-reliability-sweep-"));
    try {
      const secret = mintSecret("planted secret", { odd: true });
      writeFileSync(join(dir, "secrets.jsonl"), `${JSON.stringify({ label: "planted secret", secret })}\n`);
      writeFileSync(join(dir, "token-server.log"), "POST /token 200 3ms\n");
      expect(sweep(dir, [{ where: "stdout", text: "ok" }]).leaks).toEqual([]);
      writeFileSync(
        join(dir, "token-server.log"),
        `POST /token 401 body=client_secret=${encodeURIComponent(secret)}\n`,
      );
      expect(sweep(dir, [{ where: "stdout", text: "ok" }]).leaks).toEqual([
        { label: "planted secret", form: "url", where: "token-server.log" },
      ]);
      expect(sweep(dir, [{ where: "stderr", text: `{"secret":"${secret}"}` }]).leaks).toContainEqual({
        label: "planted secret",
        form: "clear",
        where: "stderr",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
