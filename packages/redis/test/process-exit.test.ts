/**
 * A script awaiting a token while another instance holds the identity's lease must stay alive through
 * the lease polling (it exited with code 13 between polls: core's poll timer was unref'd and the store
 * unrefs its idle client), then exit by itself once it has the token.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createTokenManager, type TokenResponse } from "@tokenkeep/core";
import { shareStore } from "@tokenkeep/core/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisStore } from "../src/index.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";
import { bundleWorker } from "./support/workers.js";

const url = redisUrlOrSkip("process-exit.test.ts");

describe.skipIf(!url)("a process awaiting a token from a manager on Redis", { timeout: 15_000 }, () => {
  let script = "";
  beforeAll(async () => {
    script = await bundleWorker("await-token");
  });
  afterAll(() => rmSync(script, { force: true }));

  it("stays alive while it polls another instance's lease, and exits once it has the token", async () => {
    const keyPrefix = uniquePrefix("exit");
    // This process is the other instance: it takes the lease and fetches until the test lets it answer.
    await using store = createRedisStore({ url, keyPrefix });
    let answer!: (response: TokenResponse) => void;
    const holder = createTokenManager({
      shared: shareStore(store, { keyPrefix }),
      creator: () => new Promise<TokenResponse>((resolve) => (answer = resolve)),
    });
    const held = holder.getToken();
    await expect.poll(() => answer).toBeDefined(); // the creator runs: the lease is held

    const child = spawn(process.execPath, [script], {
      env: { ...process.env, TOKENKEEP_REDIS_URL: url, TEST_KEY_PREFIX: keyPrefix },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    // The child prints `lease-wait N` each time it finds the lease held: after the third it has slept
    // between polls twice (20 ms doubling), where it used to exit 13. Waited for, not timed.
    const polling = new Promise<void>((resolve) =>
      child.stdout.on("data", (chunk: string) => {
        stdout += chunk;
        if (stdout.includes("lease-wait 3\n")) resolve();
      }),
    );
    let exitedEarly: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    void exited.then((code) => {
      exitedEarly ??= code;
    });
    await Promise.race([polling, exited]);
    const early = exitedEarly;
    answer({ access_token: "from-holder", token_type: "Bearer", expires_in: 3600 });
    await held;
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000, "hung"))]);
    if (code === "hung") child.kill("SIGKILL");
    const lines = stdout.trim().split("\n");
    expect({ early, code, first: lines.slice(0, 4), last: lines.at(-1) }).toEqual({
      early: undefined,
      code: 0,
      first: ["started", "lease-wait 1", "lease-wait 2", "lease-wait 3"],
      last: "from-holder 1",
    });
    // Every line between: one more refused poll each, until the holder's token was found.
    expect(lines.slice(1, -1)).toEqual(lines.slice(1, -1).map((_, index) => `lease-wait ${index + 1}`));
    await holder.dispose();
  });
});
