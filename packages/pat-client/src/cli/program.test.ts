import { formatPat } from "@tokenkeep/pat-protocol";
import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { PatAdminClient } from "../pat-admin-client";
import { EXIT_USAGE, redactPats, report, runCli } from "./program";

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

/** Runs the CLI in this process, against a closed port: a request sent would fail with exit code 1. */
async function run(args: readonly string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ["--endpoint", "http://127.0.0.1:9", "--token", `pat_${id}.${secret}`, "--retries", "0", ...args],
    { stdout: (text) => out.push(text), stderr: (text) => err.push(text) },
  );
  return { code, stdout: out.join(""), stderr: err.join("") };
}

describe("a malformed token id", () => {
  it("is a usage error (exit 2) saying what a token id is, before anything is sent", async () => {
    for (const args of [
      ["revoke", "abc"],
      ["restore", "abc"],
      ["update", "abc", "--owner", "o"],
    ]) {
      const result = await run(args);
      expect(result.code, result.stderr).toBe(EXIT_USAGE);
      expect(result.stderr).toBe(
        "error: <tokenId>: expected a token id, 21 characters of A-Za-z0-9 (got 3 characters); nothing was sent\n",
      );
    }
    const long = await run(["revoke", `${id}-x`]);
    expect(long.code).toBe(EXIT_USAGE);
    expect(long.stderr).toContain("(got 23 characters, some of them not letters or digits)");
    expect(long.stderr).not.toContain("whole personal access token");
    const after = await run(["list", "--after", "abc"]);
    expect(after.code).toBe(EXIT_USAGE);
    expect(after.stderr).toContain("--after: expected a token id");
    const json = await run(["--json", "revoke", "abc"]);
    expect(json.code).toBe(EXIT_USAGE);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: "ERR_USAGE" } });
  });

  it("says whole PAT only for an argument with a dot, naming the id inside, never the secret", async () => {
    const pasted = await run(["revoke", `pat_${id}.${secret}`]);
    expect(pasted.code).toBe(EXIT_USAGE);
    expect(pasted.stderr).toContain("looks like a whole personal access token");
    expect(pasted.stderr).toContain(`its token id is ${id}`);
    expectNoSecretIn(pasted.stderr, secret, "stderr");
  });

  it("refused by the client itself is a usage error too (exit 2), worded by whether it has a dot", async () => {
    const client = new PatAdminClient({ endpoint: "http://127.0.0.1:9", apiKey: `pat_${id}.${secret}` });
    const plain = await client.revoke("abc").catch((error: unknown) => error);
    const dotted = await client.revoke("abc.def").catch((error: unknown) => error);
    await client.close();
    expect((plain as Error).message).not.toContain("whole personal access token");
    expect((dotted as Error).message).toContain("not a whole personal access token");
    const err: string[] = [];
    const io = { stdout: () => {}, stderr: (text: string) => err.push(text) };
    expect(report(plain, false, io, [])).toBe(EXIT_USAGE);
    expect(report(plain, true, io, [])).toBe(EXIT_USAGE);
    expect(JSON.parse(err[1]!)).toMatchObject({ error: { code: "ERR_USAGE" } });
  });
});

describe("a command line quoted back in an error", () => {
  it("shows its control characters escaped, so an argument cannot drive the terminal", async () => {
    for (const args of [["\u001b[31mred"], ["list", "--bogus\u001b[2J"], ["list", "--limit", "\u009b2J"]]) {
      const result = await run(args);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr.includes("\u001b") || result.stderr.includes("\u009b")).toBe(false);
      expect(result.stderr).toMatch(/\\u001b|\\u009b/);
    }
  });
});

describe("an expiry too large for a date", () => {
  it("is a usage error (exit 2) naming the option, not a crash of the date formatting", async () => {
    for (const args of [
      ["issue", "--owner", "o", "--expires-at", "99999999999999999999"],
      ["issue", "--owner", "o", "--expires-in", "99999999999999999y"],
    ]) {
      const result = await run(args);
      expect(result.code, result.stderr).toBe(EXIT_USAGE);
      expect(result.stderr).toContain(`option '${args[3]} <`);
    }
  });
});
