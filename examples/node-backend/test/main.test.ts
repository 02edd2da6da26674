import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startLocalServers } from "@tokenkeep/example-local-servers";
import { expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.ts";
import { registerSecret } from "../../../test/reliability/src/secret-registry.ts";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

function run(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, TOKEN_URL: "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

it("calls the API with client credentials and shows the token being fetched, reused and refreshed ahead", async () => {
  const { code, stdout, stderr } = await run({});
  expect(code, stderr).toBe(0);
  // No third-party notice (oidc-provider warns about its development-only adapter and keys).
  expect(stderr).toBe("");
  const lines = stdout.trim().split("\n");
  const index = (text: string) => lines.findIndex((line) => line.includes(text));

  expect(index("authorization server (oidc-provider): http://127.0.0.1:")).toBeGreaterThanOrEqual(0);
  // The two first callers share one token request.
  expect(index("no usable token cached: fetching one")).toBeGreaterThanOrEqual(0);
  expect(index("no usable token cached: fetching one")).toBeLessThan(index("token fetched: token #1"));
  expect(index("joined the token request already in flight")).toBeGreaterThan(0);
  // Then the token is reused, refreshed in the background before it expires, and the new one used.
  expect(index("token #1 reused from the cache")).toBeGreaterThan(index("token fetched: token #1"));
  expect(index("token #1 is near its end: refreshing ahead in the background")).toBeGreaterThan(0);
  expect(index("token fetched: token #2")).toBeGreaterThan(index("refreshing ahead"));
  expect(index("token #2 reused from the cache")).toBeGreaterThan(index("token fetched: token #2"));

  const calls = lines.filter((line) => line.includes("GET /reports ->"));
  expect(calls.length).toBeGreaterThanOrEqual(8);
  for (const call of calls) expect(call).toContain("-> 200");
  const done = /done: (\d+) API calls, 0 failed; tokens fetched: (\d+)/.exec(stdout);
  expect(done).not.toBeNull();
  // One token per refresh-ahead period, not one per call.
  expect(Number(done![2])).toBeGreaterThanOrEqual(2);
  expect(Number(done![2])).toBeLessThan(Number(done![1]) / 2);
  // The client secret the example generated never shows up.
  expectNoSecretIn(stdout, /demo-/, "stdout");
});

it("uses the servers named by TOKEN_URL and API_URL instead of its own", async () => {
  const servers = await startLocalServers({ accessTokenLifetimeS: 60, bootstrapPatAdmin: false });
  // Made in this process, handed to the example: registered, so the workspace run searches for them.
  registerSecret(servers.service.clientSecret, "client secret");
  registerSecret(servers.clientSecret, "client secret");
  registerSecret(servers.robot.secret, "robot secret");
  try {
    const { code, stdout, stderr } = await run({
      TOKEN_URL: `${servers.issuer}/token`,
      CLIENT_ID: servers.service.clientId,
      CLIENT_SECRET: servers.service.clientSecret,
      API_URL: `${servers.apiUrl}/reports`,
      SCOPE: "reports:read",
      DEMO_DURATION_MS: "1000",
    });
    expect(code, stderr).toBe(0);
    expect(stdout).not.toContain("authorization server (oidc-provider)");
    expect(stdout).toMatch(/done: \d+ API calls, 0 failed; tokens fetched: 1;/);
    expectNoSecretIn(stdout, servers.service.clientSecret, "stdout");
  } finally {
    await servers.close();
  }
});
