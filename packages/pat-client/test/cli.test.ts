import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { parsePat } from "@tokenkeep/pat-protocol";
import { generateToken } from "@tokenkeep/pat-server";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import { runCli } from "../src/cli/program";
import { PatAdminClient } from "../src/index";
import { startEchoServer } from "./helpers/echo-server";
import { listenForTest } from "./helpers/listen";
import { startTestServer, type TestServer } from "./helpers/pat-server";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Spawns the built CLI (asynchronously: the server answering it lives in this process). */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function envOf(server: TestServer, token = server.adminToken): Record<string, string> {
  return { TOKENKEEP_PAT_ENDPOINT: server.url, TOKENKEEP_PAT: token };
}

/** The PAT must never be printed (only `issue` prints the token it creates). */
function expectNoPat(run: Run, pat: string): void {
  expectNoSecretIn(run.stdout, pat, "stdout");
  expectNoSecretIn(run.stderr, pat, "stderr");
}

// Each command is a new Node process (a few hundred ms each on a busy machine).
describe("tokenkeep-pat (the built CLI) against a real pat-server", { timeout: 60_000 }, () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`pnpm run build\` first`);
  });

  it("prints --help for the program and every command, exit code 0", async () => {
    const runs = await Promise.all(
      ["", "list", "issue", "register", "update", "revoke", "restore", "exchange"].map((command) =>
        cli(command ? [command, "--help"] : ["--help"]),
      ),
    );
    for (const [index, run] of runs.entries()) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^Usage: tokenkeep-pat/);
      if (index > 0) expect(run.stdout).toContain("Global Options:");
    }
    expect(runs[0]!.stdout).toContain("TOKENKEEP_PAT_ENDPOINT");
  });

  it("ends quietly when its reader closes the pipe early (`| head`)", async () => {
    const child = spawn(process.execPath, [CLI, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    // Close our end before the CLI writes, as `head` does once it has its lines.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });

  it("ends with its own exit code when the reader of stderr has gone, and issue still delivers the token", async () => {
    const server = await startTestServer();
    /** Runs the CLI with stderr's reader gone before anything is written. */
    const withoutStderr = async (args: readonly string[], env: Record<string, string> = {}) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: process.env.PATH ?? "", ...env },
      });
      let stdout = "";
      child.stdout.on("data", (chunk) => {
        stdout += chunk;
      });
      child.stderr.destroy();
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      return { code, stdout };
    };
    const [usage, issued, failed] = await Promise.all([
      withoutStderr(["list"]), // no endpoint: a usage error, written to stderr
      withoutStderr(["issue", "--owner", "quiet@example.com"], envOf(server)), // warnings on stderr
      withoutStderr(["revoke", "C".repeat(21)], envOf(server)), // 404, written to stderr
    ]);
    expect(usage.code).toBe(2);
    expect(issued.code).toBe(0);
    expect(issued.stdout).toMatch(/^pat_[A-Za-z0-9]{21}\.[A-Za-z0-9+/]{43}=\n$/);
    expect(failed.code).toBe(1);
    for (const run of [usage, issued, failed]) expect(run.stdout).not.toContain("EPIPE");
  });

  it("issue whose reader closed the pipe says the token is lost and exits 1, never 0", async () => {
    const server = await startTestServer();
    const child = spawn(process.execPath, [CLI, "issue", "--owner", "lost@example.com"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "", ...envOf(server) },
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.stdout.destroy(); // the reader is gone before the token is written
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });
    const record = (await client.list()).find((candidate) => candidate.owner === "lost@example.com");
    expect(code, stderr).toBe(1);
    expect(stderr).toContain(`the new token ${record?.tokenId} could not be written to stdout (EPIPE)`);
    expect(stderr).toContain(`tokenkeep-pat revoke ${record?.tokenId}`);
  });

  it("issue prints the new token once with a warning; list shows it with relative times", async () => {
    const server = await startTestServer();
    // 30 days minus a minute, rounded to the nearest day: "expires in 30 days".
    const expiresAt = String(Math.floor(Date.now() / 1000) + 30 * 86_400 - 60);
    const issued = await cli(
      ["issue", "--owner", "ci@example.com", "--role", "deploy,read", "--expires-at", expiresAt],
      envOf(server),
    );
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stderr).toContain("shown only once");
    expect(issued.stderr).toContain("Issued token");
    // stdout is the token alone, so `tokenkeep-pat issue ... > token.txt` captures just the token.
    expect(issued.stdout).toMatch(/^pat_[A-Za-z0-9]{21}\.[A-Za-z0-9+/]{43}=\n$/);
    const tokens = issued.stdout.match(/pat_[A-Za-z0-9]{21}\.[A-Za-z0-9+/]{43}=/g) ?? [];
    expect(tokens).toHaveLength(1);
    expectNoSecretIn(issued.stderr, tokens[0]!, "stderr");
    const parsed = parsePat(tokens[0]!);
    expect(parsed.ok).toBe(true);
    expectNoPat(issued, server.adminToken);

    const listed = await cli(["list"], envOf(server));
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain("ci@example.com");
    expect(listed.stdout).toContain("expires in 30 days");
    expect(listed.stdout).toContain("never expires");
    expect(listed.stdout).toMatch(/2 tokens/);
    expectNoPat(listed, server.adminToken);
    expectNoSecretIn(listed.stdout, tokens[0]!, "stdout");
  });

  it("--json prints machine output for issue, list, revoke, restore and update", async () => {
    const server = await startTestServer();
    const issued = await cli(["issue", "--owner", "json@example.com", "--json"], envOf(server));
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stderr).toContain("shown only once");
    const { token, record } = JSON.parse(issued.stdout) as { token: string; record: { tokenId: string } };
    expect(token.startsWith(`pat_${record.tokenId}.`)).toBe(true);

    const page = async (...extra: string[]) => {
      const run = await cli(["list", "--json", "--include-revoked", ...extra], envOf(server));
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as {
        records: { tokenId: string; revokedAt?: number | null; roles: string[]; expiresAt?: number | null }[];
        nextAfterTokenId: string | null;
      };
    };
    const find = async () => (await page()).records.find((r) => r.tokenId === record.tokenId)!;

    const revoked = await cli(["revoke", record.tokenId, "--json"], envOf(server));
    expect(JSON.parse(revoked.stdout)).toEqual({ tokenId: record.tokenId, revoked: true });
    expect((await find()).revokedAt).toEqual(expect.any(Number));

    const restored = await cli(["restore", record.tokenId], envOf(server));
    expect(restored.stdout).toContain(`Restored token ${record.tokenId}.`);
    expect((await find()).revokedAt ?? null).toBeNull();

    const updated = await cli(
      ["update", record.tokenId, "--add-role", "ops", "--expires-in", "1d"],
      envOf(server),
    );
    expect(updated.code, updated.stderr).toBe(0);
    expect(await find()).toMatchObject({ roles: ["ops"], expiresAt: expect.any(Number) });
    await cli(["update", record.tokenId, "--no-expiry", "--remove-role", "ops"], envOf(server));
    const after = await find();
    expect(after.roles).toEqual([]);
    expect(after.expiresAt ?? null).toBeNull();

    const first = await page("--limit", "1");
    expect(first.records).toHaveLength(1);
    expect(first.nextAfterTokenId).toBe(first.records[0]!.tokenId);
    const all = await page("--all");
    expect(all.records).toHaveLength(2);
  });

  it("register adds a pre-generated token; exchange prints a JWT and never the PAT", async () => {
    const server = await startTestServer();
    const generated = await generateToken({ scryptLog2Cost: 10 });
    const registered = await cli(
      ["register", generated.tokenId, "--secret-phc", generated.secretPhc, "--owner", "robot", "--admin"],
      envOf(server),
    );
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.stdout).toContain(generated.tokenId);

    const exchanged = await cli(["exchange"], envOf(server, generated.token));
    expect(exchanged.code, exchanged.stderr).toBe(0);
    expect(exchanged.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expectNoPat(exchanged, generated.token);
    const asJson = await cli(["exchange", "--json"], envOf(server, generated.token));
    expect(JSON.parse(asJson.stdout)).toMatchObject({ token_type: "Bearer", expires_in: expect.any(Number) });
  });

  it("flags work instead of the environment variables", async () => {
    const server = await startTestServer();
    const run = await cli(["--endpoint", server.url, "--token", server.adminToken, "list", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).records).toHaveLength(1);
    expectNoPat(run, server.adminToken);
  });

  it("exit code 1 for server errors (404, a wrong PAT), with the server's message", async () => {
    const server = await startTestServer();
    const missing = await cli(["revoke", "C".repeat(21)], envOf(server));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Failed to revoke token: 404 Token not found");

    const wrong = await generateToken({ scryptLog2Cost: 10 });
    const denied = await cli(["list", "--json"], envOf(server, wrong.token));
    expect(denied.code).toBe(1);
    expect(JSON.parse(denied.stderr)).toMatchObject({ error: { status: 401, code: "ERR_PAT_CLIENT_HTTP" } });
    expectNoPat(denied, wrong.token);
  });

  it("exit code 2 for usage errors", async () => {
    const server = await startTestServer();
    const runs = await Promise.all([
      cli(["list"]), // no endpoint, no token
      cli(["list", "--limit", "5000"], envOf(server)),
      cli(["issue"], envOf(server)), // --owner is required
      cli(["bogus"], envOf(server)),
      cli(["update", "D".repeat(21)], envOf(server)), // nothing to update
      cli(["issue", "--owner", "x", "--expires-at", "2030-01-01", "--expires-in", "1d"], envOf(server)),
      cli(["list"], { TOKENKEEP_PAT_ENDPOINT: "ftp://example.com", TOKENKEEP_PAT: server.adminToken }),
      // A PAT pasted where a command or an option belongs: commander quotes those, not this PAT.
      cli([server.adminToken], envOf(server)),
      cli(["list", `--${server.adminToken}`], envOf(server)),
      cli(["list", server.adminToken], envOf(server)),
    ]);
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).not.toBe("");
      expectNoPat(run, server.adminToken);
    }
    expect(server.requests.size).toBe(0);
  });

  it("refuses a whole PAT where a token id belongs, before sending anything, naming the id inside", async () => {
    const server = await startTestServer();
    const pasted = (await generateToken({ scryptLog2Cost: 10 })).token;
    const id = parsePat(pasted).ok ? pasted.slice(4, 25) : "";
    const runs = await Promise.all([
      cli(["revoke", pasted], envOf(server)),
      cli(["restore", pasted], envOf(server)),
      cli(["update", pasted, "--owner", "x"], envOf(server)),
      cli(["register", pasted, "--secret-phc", "$scrypt$x", "--owner", "x"], envOf(server)),
    ]);
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(
        "looks like a whole personal access token, not a token id; nothing was sent",
      );
      expect(run.stderr).toContain(`its token id is ${id}`);
      expectNoPat(run, pasted);
    }
    expect(server.requests.size).toBe(0);
  });

  it("refuses useless expiries with the value probably meant (exit 2, nothing sent)", async () => {
    const server = await startTestServer();
    const nowS = Math.floor(Date.now() / 1000);
    const inAMonthMs = (nowS + 30 * 86_400) * 1000;
    const [zero, millis, past, duration] = await Promise.all([
      cli(["issue", "--owner", "o", "--expires-in", "0d"], envOf(server)),
      cli(["issue", "--owner", "o", "--expires-at", String(inAMonthMs)], envOf(server)),
      cli(["issue", "--owner", "o", "--expires-at", "2020-01-01"], envOf(server)),
      cli(["revoke", "E".repeat(21), "--expires-at", "86400"], envOf(server)),
    ]);
    for (const run of [zero, millis, past, duration]) expect(run.code, run.stderr).toBe(2);
    expect(zero.stderr).toContain("--expires-in must be longer than 0");
    expect(millis.stderr).toContain(
      `looks like epoch milliseconds (it is year ${new Date(inAMonthMs * 1000).getUTCFullYear()} in seconds); did you mean --expires-at ${inAMonthMs / 1000} (`,
    );
    expect(past.stderr).toContain("is 2020-01-01T00:00:00Z, in the past");
    expect(duration.stderr).toContain("did you mean --expires-in 86400s");
    expect(server.requests.size).toBe(0);
  });

  it("names a mistyped option and the one probably meant; messages use flag names", async () => {
    const server = await startTestServer();
    const [owner, revoked, unknown, insecure, json] = await Promise.all([
      cli(["issue", "--ownr", "x"], envOf(server)),
      cli(["list", "--include-revokd"], envOf(server)),
      cli(["list", "--frobnicate"], envOf(server)),
      cli(["list"], { TOKENKEEP_PAT_ENDPOINT: "http://192.0.2.2:8080", TOKENKEEP_PAT: server.adminToken }),
      cli(["issue", "--json", "--onwer", "x"], envOf(server)),
    ]);
    expect(owner).toMatchObject({ code: 2, stdout: "" });
    expect(owner.stderr).toBe(
      "error: unknown option `--ownr`, did you mean `--owner`? (add --help for usage)\n",
    );
    expect(revoked.stderr).toContain("unknown option `--include-revokd`, did you mean `--include-revoked`?");
    expect(unknown.stderr).toBe("error: unknown option `--frobnicate` (add --help for usage)\n");
    expect(insecure.code).toBe(2);
    expect(insecure.stderr).toContain("error: --endpoint (TOKENKEEP_PAT_ENDPOINT): expected https");
    expect(insecure.stderr).toContain("--allow-insecure-requests");
    expect(insecure.stderr).not.toMatch(/options|allowInsecureRequests/);
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: { code: "ERR_USAGE", message: expect.stringContaining("did you mean `--owner`?") },
    });
    const invalid = await cli(["issue", "--owner", ""], envOf(server));
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("→ --owner");
    expect(server.requests.get("POST /admin/tokens")).toBe(1);
  });

  it("says that it retries when the server cannot be reached", async () => {
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const { port } = listener.address() as AddressInfo;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    const endpoint = `http://127.0.0.1:${port}`;
    const run = await cli(["list", "--retries", "1"], {
      TOKENKEEP_PAT_ENDPOINT: endpoint,
      TOKENKEEP_PAT: "pat_x",
    });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split("\n");
    const failed = `no answer from ${endpoint}/auth/token: ECONNREFUSED`;
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(`^warning: .*${escapeRegExp(failed)}; retrying \\(attempt 2 of 2\\)$`),
      ),
      expect.stringMatching(new RegExp(`^error: .*${escapeRegExp(failed)}$`)),
    ]);
  });

  it("prints neither the error nor the retry warning with the PAT a server echoes form-encoded", async () => {
    const prefix = "pat_34NwRzAbCdEfGhIjKlMnO.";
    const pat = mintSecret("PAT", { prefix, odd: true }); // `+/=% :&`: changed by form encoding
    const server = await startEchoServer((count) => (count === 1 ? 503 : 400));
    const run = await cli(["list", "--retries", "1"], {
      TOKENKEEP_PAT_ENDPOINT: server.url,
      TOKENKEEP_PAT: pat,
    });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(
        /^warning: .*503 invalid request: .*client_secret=\[redacted\] \(from .*\); retrying/,
      ),
      expect.stringMatching(/^error: .*400 invalid request: .*client_secret=\[redacted\]/),
    ]);
    // The part of the PAT that no encoding changes: found in any form of it.
    expectNoPat(run, pat.slice(0, prefix.length + 12));
  });

  it("explains a refused PAT, and with --admin-token says which token it is and why", async () => {
    const server = await startTestServer();
    const stranger = await generateToken({ scryptLog2Cost: 10 }); // well-formed, never stored
    const user = await server.issue({ owner: "ci@example.com" });
    const old = await server.issue({
      owner: "old@example.com",
      expiresAt: Math.floor(Date.now() / 1000) - 60,
    });
    const revoked = await cli(["revoke", user.tokenId], envOf(server));
    expect(revoked.code, revoked.stderr).toBe(0);
    const admin = { TOKENKEEP_PAT_ADMIN_TOKEN: server.adminToken };

    const plain = await cli(["exchange"], envOf(server, stranger.token));
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(
      `The server refused the personal access token with id ${stranger.tokenId}`,
    );
    expect(plain.stderr).toContain("is not expired or revoked, and that it was copied whole");
    expect(plain.stderr).toContain("With an admin token in --admin-token");

    const [unknown, wasRevoked, expired, wrongSecret] = await Promise.all([
      cli(["exchange"], { ...envOf(server, stranger.token), ...admin }),
      cli(["exchange"], { ...envOf(server, user.token), ...admin }),
      cli(["list"], { ...envOf(server, old.token), ...admin }),
      cli(["exchange"], { ...envOf(server, `${server.adminToken.slice(0, -5)}AAAA=`), ...admin }),
    ]);
    expect(unknown.stderr).toContain(`No token with id ${stranger.tokenId} exists on this server`);
    expect(wasRevoked.stderr).toContain(`Token ${user.tokenId} (owner ci@example.com) was revoked`);
    expect(expired.stderr).toContain(`Token ${old.tokenId} (owner old@example.com) expired`);
    expect(wrongSecret.stderr).toContain("(owner admin) is active, so the secret part of the PAT is wrong");
    for (const run of [plain, unknown, wasRevoked, expired, wrongSecret]) {
      expect(run.code).toBe(1);
      for (const pat of [server.adminToken, stranger.token, user.token, old.token]) expectNoPat(run, pat);
    }
  });
});

/**
 * A server that refuses every PAT (401 to the exchange, as any server does to a PAT it does not know)
 * and keeps the text of every request it gets: headers and body.
 */
async function startRefusingServer(): Promise<{ url: string; received: string[] }> {
  const received: string[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      // The exchange sends the PAT form-encoded (`+/=` as `%2B`, `%2F`, `%3D`): keep it decoded too.
      const decoded = [...new URLSearchParams(body).values()].join("\n");
      received.push(`${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n${body}\n${decoded}`);
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "Invalid token" } }));
    });
  });
  return { url: await listenForTest(server), received };
}

describe("the admin lookup of a refused PAT goes only where the admin token is meant to go", {
  timeout: 60_000,
}, () => {
  it("never sends TOKENKEEP_PAT_ADMIN_TOKEN to an --endpoint other than TOKENKEEP_PAT_ENDPOINT", async () => {
    const home = await startTestServer(); // the server the admin token in the environment is for
    const other = await startRefusingServer();
    const stranger = await generateToken({ scryptLog2Cost: 10 });
    // A shell profile exports the admin token with its server; the command names another server.
    const profile = { TOKENKEEP_PAT_ENDPOINT: home.url, TOKENKEEP_PAT_ADMIN_TOKEN: home.adminToken };
    const [asFlag, asEnvToken, noEnvEndpoint] = await Promise.all([
      cli(["--endpoint", other.url, "--token", stranger.token, "exchange"], profile),
      cli(["--endpoint", other.url, "exchange"], { ...profile, TOKENKEEP_PAT: stranger.token }),
      // An admin token in the environment with no server named there goes nowhere.
      cli(["--endpoint", other.url, "--token", stranger.token, "exchange"], {
        TOKENKEEP_PAT_ADMIN_TOKEN: home.adminToken,
      }),
    ]);
    expect(other.received.length).toBeGreaterThanOrEqual(3); // every exchange reached it
    for (const text of other.received) expectNoSecretIn(text, home.adminToken, "what the other server got");
    expect(home.requests.size).toBe(0);
    for (const run of [asFlag, asEnvToken, noEnvEndpoint]) {
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `The server refused the personal access token with id ${stranger.tokenId}`,
      );
      expect(run.stderr).toContain(
        "TOKENKEEP_PAT_ADMIN_TOKEN was not sent: it goes only to the server TOKENKEEP_PAT_ENDPOINT names",
      );
      expectNoPat(run, home.adminToken);
      expectNoPat(run, stranger.token);
    }
  });

  it("never sends TOKENKEEP_PAT_ADMIN_TOKEN out of TOKENKEEP_PAT_ENDPOINT's path through --auth-path or --admin-path", async () => {
    // One host serving two services by path: the environment names /home; the command names /home
    // too, but its route paths climb out of it (dot segments, plain or percent-encoded) to /other.
    const host = await startRefusingServer();
    const admin = await generateToken({ scryptLog2Cost: 10 });
    const stranger = await generateToken({ scryptLog2Cost: 10 });
    const profile = {
      TOKENKEEP_PAT_ENDPOINT: `${host.url}/home`,
      TOKENKEEP_PAT_ADMIN_TOKEN: admin.token,
      TOKENKEEP_PAT: stranger.token,
    };
    const runs = await Promise.all([
      cli(["--endpoint", `${host.url}/home`, "--auth-path", "/../other/auth", "exchange"], profile),
      cli(["--auth-path", "/%2e%2e/other/auth", "exchange"], profile),
      cli(["--admin-path", "/../other/admin", "exchange"], profile),
    ]);
    expect(host.received.length).toBeGreaterThanOrEqual(3); // every exchange of --token reached it
    for (const text of host.received) expectNoSecretIn(text, admin.token, "what the host got");
    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        "TOKENKEEP_PAT_ADMIN_TOKEN was not sent: it goes only to the server TOKENKEEP_PAT_ENDPOINT names",
      );
      expectNoPat(run, admin.token);
      expectNoPat(run, stranger.token);
    }
  });

  it("still looks the PAT up with an explicit --admin-token, or with the environment's own endpoint", async () => {
    const server = await startTestServer();
    const stranger = await generateToken({ scryptLog2Cost: 10 });
    const unknown = `No token with id ${stranger.tokenId} exists on this server`;
    const [explicit, sameServer, sameServerSpelledOut] = await Promise.all([
      // Typed for this command: it goes to this command's server, even with another in the environment.
      cli(
        ["--endpoint", server.url, "--token", stranger.token, "--admin-token", server.adminToken, "exchange"],
        {
          TOKENKEEP_PAT_ENDPOINT: "https://elsewhere.example",
        },
      ),
      cli(["exchange"], { ...envOf(server, stranger.token), TOKENKEEP_PAT_ADMIN_TOKEN: server.adminToken }),
      // --endpoint naming the environment's server (a trailing slash changes nothing).
      cli(["--endpoint", `${server.url}/`, "exchange"], {
        ...envOf(server, stranger.token),
        TOKENKEEP_PAT_ADMIN_TOKEN: server.adminToken,
      }),
    ]);
    for (const run of [explicit, sameServer, sameServerSpelledOut]) {
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(unknown);
      expectNoPat(run, server.adminToken);
      expectNoPat(run, stranger.token);
    }
  });
});

describe("tokenkeep-pat --timeout", { timeout: 60_000 }, () => {
  it("abandons an attempt whose answer takes longer than --timeout (or TOKENKEEP_PAT_TIMEOUT_MS)", async () => {
    // A server that takes each request and never answers.
    const stalled = createHttpServer((req) => req.resume());
    const url = await listenForTest(stalled);
    const env = { TOKENKEEP_PAT_ENDPOINT: url, TOKENKEEP_PAT: `pat_${"A".repeat(21)}.${"B".repeat(43)}=` };
    const started = Date.now();
    const [flag, fromEnv] = await Promise.all([
      cli(["--timeout", "300", "--retries", "0", "list", "--json"], env),
      cli(["--retries", "0", "list", "--json"], { ...env, TOKENKEEP_PAT_TIMEOUT_MS: "300" }),
    ]);
    // Well before the default 30 s (the spawn's own limit), each with the client's timeout error.
    expect(Date.now() - started).toBeLessThan(20_000);
    for (const run of [flag, fromEnv]) {
      expect(run.code, run.stderr).toBe(1);
      expect(JSON.parse(run.stderr)).toMatchObject({ error: { code: "ERR_PAT_CLIENT_TIMEOUT" } });
    }
  });

  it("refuses a --timeout that is not a positive number of milliseconds (exit 2, nothing sent)", async () => {
    const server = await startTestServer();
    const runs = await Promise.all([
      ...["0", "-5", "abc", "1.5", "", "30s", "2147483648"].map((value) =>
        cli([`--timeout=${value}`, "list"], envOf(server)),
      ),
      cli(["list"], { ...envOf(server), TOKENKEEP_PAT_TIMEOUT_MS: "soon" }),
    ]);
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain("Expected a number of milliseconds from 1 to 2147483647");
    }
    expect(server.requests.size).toBe(0);
  });
});

describe("tokenkeep-pat reads a PAT as a file or a Windows editor leaves it", { timeout: 60_000 }, () => {
  it("drops the whitespace around --token and --admin-token (a CRLF, a BOM), from flags and environment", async () => {
    const server = await startTestServer();
    const stranger = await generateToken({ scryptLog2Cost: 10 });
    // `export TOKENKEEP_PAT="$(cat token.txt)"` drops a trailing LF, not the CR before it, nor a BOM.
    const [crlf, refused] = await Promise.all([
      cli(["list"], envOf(server, `\uFEFF${server.adminToken}\r\n`)),
      // The lookup of a refused PAT uses the admin token the same way.
      cli(["exchange"], {
        ...envOf(server, stranger.token),
        TOKENKEEP_PAT_ADMIN_TOKEN: `${server.adminToken}\r\n`,
      }),
    ]);
    expect(crlf.code, crlf.stderr).toBe(0);
    // The flag, in this process (commander parses it as it parses the environment variable).
    const errors: string[] = [];
    const io = { stdout: () => undefined, stderr: (text: string) => errors.push(text) };
    const flag = await runCli(["--endpoint", server.url, "--token", ` ${server.adminToken}\r`, "list"], io);
    expect(flag, errors.join("")).toBe(0);
    expect(refused.stderr).toContain(`No token with id ${stranger.tokenId} exists on this server`);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
