import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
// A PAT of the protocol's shape: 43 base64 characters and the padding after the id.
const PAT = `pat_34NwRzvnBbgI3uedkrQ3Q.${"c2VjcmV0".repeat(5)}MTA=`;
const ADMIN = `pat_AAAAAAAAAAAAAAAAAAAAA.${"YWRtaW5h".repeat(5)}MTA=`;

describe("tokenkeep-pat's process title", () => {
  it.skipIf(process.platform !== "linux")(
    "a --token on the command line is not in /proc/<pid>/cmdline while the command waits",
    async () => {
      // A server that takes the exchange and never answers: the command waits, as on a slow network.
      let arrived: () => void = () => undefined;
      const waiting = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const server = createServer(() => arrived());
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const child = spawn(
        process.execPath,
        [CLI, "--endpoint", url, "--token", PAT, `--admin-token=${ADMIN}`, "--retries", "0", "list"],
        { stdio: "ignore", env: { PATH: process.env.PATH ?? "" } },
      );
      onTestFinished(() => {
        child.kill();
        server.closeAllConnections();
        server.close();
      });
      await waiting;
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, "utf8");
      expect(cmdline).toMatch(/^tokenkeep-pat /);
      expect(cmdline).toContain("--token <hidden>");
      for (const secret of [PAT, ADMIN]) expect(cmdline).not.toContain(secret.slice(-20));
    },
  );
});
