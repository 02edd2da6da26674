// What the `tokenkeep-pat` command prints of a server's text (owners, roles, error messages and
// details): control characters are escaped on a terminal, and `--json` is exact. In process: runCli
// against a real pat-server, and a server answering a crafted error.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { runCli } from "../src/cli/program";
import { startTestServer } from "./helpers/pat-server";

/**
 * Any control character but the newline that ends our own lines, and any character a terminal does
 * not show where it stands: bidi controls, zero-width and other invisible characters, unpaired surrogates.
 */
const RAW_CONTROL = /(?!\n)[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;

async function run(args: readonly string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (text) => out.push(text), stderr: (text) => err.push(text) });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

describe("the server's text on a terminal", () => {
  it("lists a crafted owner and role escaped, one line per record; --json keeps them exact", async () => {
    const server = await startTestServer();
    const owner = "mallory\r\u001b[2K\u001b[1Aadmin     yes";
    const role = "deploy\n\u009b2J";
    await server.issue({ owner, roles: [role] });
    // Shown raw, the override would make the row read "admin@example.com" backwards-to-forwards.
    const reversed = "eve\u202emoc.elpmaxe@nimda\u2066";
    await server.issue({ owner: reversed, roles: ["ops\u200b"] });
    const global = ["--endpoint", server.url, "--token", server.adminToken];
    const listed = await run([...global, "list"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toMatch(RAW_CONTROL);
    expect(listed.stdout).toContain("mallory\\u000d\\u001b[2K\\u001b[1Aadmin     yes");
    expect(listed.stdout).toContain("deploy\\u000a\\u009b2J");
    expect(listed.stdout).toContain("eve\\u202emoc.elpmaxe@nimda\\u2066");
    expect(listed.stdout).toContain("ops\\u200b");
    expect(listed.stdout.trimEnd().split("\n")).toHaveLength(5); // header, admin, mallory, eve, count

    const json = await run([...global, "--json", "list"]);
    // Exact once parsed, and nothing raw on the terminal: the same characters as JSON escapes.
    expect(json.stdout).not.toMatch(RAW_CONTROL);
    const page = JSON.parse(json.stdout) as { records: { owner: string; roles: string[] }[] };
    expect(page.records.map((record) => record.owner)).toContain(owner);
    expect(page.records.find((record) => record.owner === owner)?.roles).toEqual([role]);
    expect(page.records.find((record) => record.owner === reversed)?.roles).toEqual(["ops\u200b"]);

    const issued = await run([...global, "issue", "--owner", "eve\u001b]0;pwned\u0007"]);
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stderr).toContain("for eve\\u001b]0;pwned\\u0007");
    expect(issued.stderr + issued.stdout).not.toMatch(RAW_CONTROL);
  });

  it("escapes a server's error message and details", async () => {
    const server = createServer((request, response) => {
      request.resume();
      if (request.url?.startsWith("/auth/token")) {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ access_token: "e30.e30.sig", token_type: "Bearer", expires_in: 3600 }));
        return;
      }
      response.writeHead(400, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          error: {
            message: "bad\r\u001b[31mred",
            code: "ERR_VALIDATION",
            details: "→ at owner\u001b[2J\nline2\u0085",
          },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const token = `pat_${"A".repeat(21)}.${"B".repeat(43)}=`;
    const failed = await run(["--endpoint", url, "--token", token, "--retries", "0", "list"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).not.toMatch(RAW_CONTROL);
    expect(failed.stderr).toContain("bad\\u000d\\u001b[31mred");
    expect(failed.stderr).toContain("→ --owner\\u001b[2J");
    expect(failed.stderr).toContain("line2\\u0085");
  });
});
