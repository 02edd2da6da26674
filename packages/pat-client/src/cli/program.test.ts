import { formatPat } from "@tokenkeep/pat-protocol";
import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { redactPats } from "./program";

const id = "A1b2C3d4E5f6G7h8I9j0K";
const secret = `${"x".repeat(42)}Q=`;

describe("redactPats", () => {
  it("hides a PAT of any prefix wherever it stands in a message", () => {
    for (const prefix of ["pat_", "acme_", ""]) {
      const pat = formatPat(id, secret, { prefix });
      const text = redactPats(`error: unknown command '${pat}'\nerror: unknown option '--${pat}'`);
      expectNoSecretIn(text, secret, "the redacted text");
      expect(text).toBe(
        "error: unknown command '<personal access token, not shown>'\n" +
          "error: unknown option '<personal access token, not shown>'", // the dashes go with it
      );
    }
  });

  it("leaves everything else alone, including a token id on its own", () => {
    const text = `error: unknown command 'lsit'\n(Did you mean list?) ${id}`;
    expect(redactPats(text)).toBe(text);
  });
});
