// A personal access token service on SQLite, administered twice: first with the client library
// (@tokenkeep/pat-client), then with its command, tokenkeep-pat. It starts its own server on a
// temporary database and removes everything when it is done.
//
//   pnpm start
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  isApiError,
  isPatClientError,
  PatAdminClient,
  type PatRecord,
  printable,
} from "@tokenkeep/pat-client";
import { bootstrapAdminToken, createPatHandler } from "@tokenkeep/pat-server";
import { serve } from "@tokenkeep/pat-server/node";
import { createSqliteStore } from "@tokenkeep/pat-server/sqlite";

const log = (line = "") => console.log(line);
const days = (n: number) => Math.floor(Date.now() / 1000) + n * 86_400;
// Owners, roles and error messages are text whoever holds an admin token chose: `printable` escapes
// what a terminal would act on or hide (ESC, `\r`, bidi overrides ...), as the tokenkeep-pat command does.
const describe = (r: PatRecord) =>
  `${printable(r.tokenId)} ${printable(r.owner)}${r.isAdmin ? " (admin)" : ""}` +
  `${r.roles.length ? ` roles=${r.roles.map(printable).join(",")}` : ""}${r.revokedAt != null ? " REVOKED" : ""}`;

// 1. The server: SQLite in a temporary folder, the handler, node:http on 127.0.0.1 and a free port.
const folder = await mkdtemp(join(tmpdir(), "tokenkeep-pat-admin-"));
const store = createSqliteStore({ path: join(folder, "tokens.db") });
const handler = createPatHandler({ store, jwtLifetimeSeconds: 300 });
const server = await serve(handler);
log(`PAT server on ${server.url} (SQLite database in ${folder})`);

try {
  // 2. Bootstrap: the first admin token, created only while the store has no active admin.
  const admin = await bootstrapAdminToken(store);
  if (!admin) throw new Error("the new database already has an admin token");
  log(
    `bootstrapped admin token ${printable(admin.record.tokenId)} (the token itself is kept secret, not printed)`,
  );
  log();

  // 3. The client library.
  log("== with the client (@tokenkeep/pat-client) ==");
  {
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: admin.token });
    const ci = await client.issue({ owner: "ci@example.com", roles: ["deploy"], expiresAt: days(30) });
    const alice = await client.issue({ owner: "alice@example.com" });
    // An owner that erases its own line and shows another (ESC [2K, then a carriage return), and a role
    // that a right-to-left override shows as "readadmin": printed escaped, never acted on.
    const spoof = await client.issue({
      owner: "mallory\u001b[2K\rci@example.com",
      roles: ["read\u202enimda"],
    });
    log(
      `issued ${printable(ci.record.tokenId)} for ${printable(ci.record.owner)} (the new token is returned once, to hand over)`,
    );
    log(`issued ${printable(alice.record.tokenId)} for ${printable(alice.record.owner)}`);
    log(`issued ${printable(spoof.record.tokenId)} for ${printable(spoof.record.owner)}`);
    log(`list: ${(await client.list()).length} active tokens`);
    for (const record of await client.list()) log(`  ${describe(record)}`);

    await client.revoke(alice.record.tokenId);
    log(`revoked ${printable(alice.record.tokenId)}`);
    log(`list: ${(await client.list()).length} active tokens`);
    const all = await client.list({ includeRevoked: true });
    log(`list including revoked: ${all.length} tokens`);
    for (const record of all) log(`  ${describe(record)}`);

    await client.restore(alice.record.tokenId);
    log(`restored ${printable(alice.record.tokenId)}`);
    log(`list: ${(await client.list()).length} active tokens`);

    try {
      await client.revoke("NoSuchTokenId12345678");
    } catch (error) {
      if (!isPatClientError(error) || !isApiError(error.cause)) throw error;
      const { message, code = "" } = error.cause.error;
      log(`revoking an unknown id: ${error.status} ${printable(message)} (${printable(code)})`);
    }
  }
  log();

  // 4. The same with the command, found through the client package's `bin`.
  log("== with the command (tokenkeep-pat) ==");
  const packageJson = fileURLToPath(import.meta.resolve("@tokenkeep/pat-client/package.json"));
  const { bin } = JSON.parse(readFileSync(packageJson, "utf8")) as { bin: Record<string, string> };
  const cliPath = join(packageJson, "..", bin["tokenkeep-pat"]!);
  const env = { ...process.env, TOKENKEEP_PAT_ENDPOINT: server.url, TOKENKEEP_PAT: admin.token };
  const cli = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [cliPath, ...args], { env }, (error, stdout, stderr) =>
        error ? reject(new Error(`tokenkeep-pat ${args[0]} failed: ${stderr}`)) : resolve(stdout),
      );
    });

  // `issue --json` prints the token once; this script keeps it to itself and shows the record.
  const issued = JSON.parse(
    await cli("issue", "--owner", "bot@example.com", "--role", "read", "--expires-in", "7d", "--json"),
  ) as {
    token: string;
    record: PatRecord;
  };
  const botId = issued.record.tokenId;
  log(`$ tokenkeep-pat issue --owner bot@example.com --role read --expires-in 7d --json`);
  log(
    `issued ${printable(botId)} for bot@example.com (token printed once by the command, not repeated here)`,
  );
  log("$ tokenkeep-pat list");
  log((await cli("list")).trimEnd());
  log(`$ tokenkeep-pat revoke ${printable(botId)}`);
  log((await cli("revoke", botId)).trimEnd());
  log("$ tokenkeep-pat list --include-revoked");
  log((await cli("list", "--include-revoked")).trimEnd());
  log(`$ tokenkeep-pat restore ${printable(botId)}`);
  log((await cli("restore", botId)).trimEnd());
  log("$ tokenkeep-pat list");
  log((await cli("list")).trimEnd());
  log();
  log("done");
} finally {
  await server.close();
  await handler.close();
  await store.close();
  await rm(folder, { recursive: true, force: true });
}
