import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.ts";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

function run(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], { env: process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

it("bootstraps an admin, then issues, lists, revokes and restores with the client and the command", async () => {
  const { code, stdout, stderr } = await run();
  expect(code, stderr).toBe(0);
  expect(stderr).toBe(""); // the demo shows no third-party notice
  const lines = stdout.split("\n");
  const at = (text: string | RegExp) =>
    lines.findIndex((line) => (typeof text === "string" ? line.includes(text) : text.test(line)));

  expect(at(/^PAT server on http:\/\/127\.0\.0\.1:\d+ /)).toBe(0);
  expect(at("bootstrapped admin token")).toBe(1);

  // The client: 4 active (admin, ci, alice, the spoofing owner), 3 after the revocation, 4 again after
  // restoring.
  const client = at("== with the client");
  const command = at("== with the command");
  const clientPart = lines.slice(client, command);
  expect(clientPart.filter((line) => line.startsWith("list: ")).map((line) => line.split(" ")[1])).toEqual([
    "4",
    "3",
    "4",
  ]);
  expect(clientPart.some((line) => line.includes("list including revoked: 4 tokens"))).toBe(true);
  expect(clientPart.some((line) => / alice@example\.com REVOKED$/.test(line))).toBe(true);
  expect(
    clientPart.some((line) =>
      line.includes("revoking an unknown id: 404 Token not found (ERR_TOKEN_NOT_FOUND)"),
    ),
  ).toBe(true);

  // The command: tables with relative times; the revoked token disappears from `list` and comes back.
  const commandPart = lines.slice(command).join("\n");
  const botId = /issued ([A-Za-z0-9]{21}) for bot@example\.com/.exec(commandPart)?.[1];
  expect(botId).toBeDefined();
  const tables = commandPart.split(/^\$ tokenkeep-pat /m);
  const list1 = tables.find((part) => part.startsWith("list\n"))!;
  expect(list1).toContain(botId!);
  // Days rounded to the nearest one: a 7-day token still shows 7 days seconds later.
  expect(list1).toMatch(/expires in 7 days/);
  expect(list1).toMatch(/expires in 30 days/);
  expect(list1).toContain("5 tokens");
  expect(commandPart).toContain(`Revoked token ${botId}.`);
  const withRevoked = tables.find((part) => part.startsWith("list --include-revoked"))!;
  expect(withRevoked).toMatch(new RegExp(`${botId}.*revoked`));
  expect(commandPart).toContain(`Restored token ${botId}.`);
  expect(tables.at(-1)).toContain(botId!);
  expect(stdout.trimEnd().endsWith("done")).toBe(true);

  // A server's text is printed as the command prints it: the owner that would erase its line and the
  // role that a right-to-left override would reorder show their escapes, in the client's part too.
  const spoofed = clientPart.filter((line) => line.includes("mallory"));
  expect(spoofed.length).toBeGreaterThanOrEqual(3); // issued, and in both lists
  for (const line of spoofed) expect(line).toContain("mallory\\u001b[2K\\u000dci@example.com");
  expect(clientPart.filter((line) => line.includes("roles=read\\u202enimda"))).toHaveLength(2);
  // Nothing a terminal acts on or hides reaches it, from either part.
  expect(stdout.match(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu)?.filter((char) => char !== "\n") ?? []).toEqual([]);

  // No token, the admin's included, is ever printed.
  expectNoSecretIn(stdout, /pat_[A-Za-z0-9]{21}\.[A-Za-z0-9+/]{43}=/, "stdout");
  expectNoSecretIn(stderr, /pat_[A-Za-z0-9]{21}\./, "stderr");
});
