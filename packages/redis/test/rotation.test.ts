import { rmSync } from "node:fs";
import { passwordGrant, refreshTokenGrant } from "@tokenkeep/grants";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLIENT, type RunningProvider, startOidcProvider, USER } from "./support/oidc-provider.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";
import { bundleWorker, startWorker, type WorkerProcess } from "./support/workers.js";

const url = redisUrlOrSkip("rotation.test.ts");

interface Rotated {
  pairs: string[];
  errors: string[];
  stats: { redemptions: number; successorHits: number; coalesced: number };
}

describe.skipIf(!url)("two processes rotating one refresh token against oidc-provider", () => {
  let workerFile = "";
  const workers: WorkerProcess[] = [];
  let provider: RunningProvider | undefined;

  beforeAll(async () => {
    workerFile = await bundleWorker("rotation-worker");
  });
  afterAll(() => rmSync(workerFile, { force: true }));
  afterEach(async () => {
    for (const worker of workers.splice(0)) worker.kill();
    await provider?.close();
  });

  it("redeems it once: both get the same new pair and the grant stays alive", async () => {
    provider = await startOidcProvider();
    const grant = { tokenUrl: provider.tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret };
    const initial = await passwordGrant({ ...grant, username: USER.name, password: USER.password })();
    expect(initial.refreshToken).toBeTypeOf("string");

    const prefix = uniquePrefix("rotation");
    const encryptionKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    const pair = [0, 1].map(() => {
      const worker = startWorker(workerFile);
      workers.push(worker);
      worker.send({ type: "init", redisUrl: url, prefix, encryptionKey, ...grant });
      return worker;
    });
    await Promise.all(pair.map((worker) => worker.next("ready")));

    // The same moment, the same refresh token, 25 concurrent requests in each process.
    for (const worker of pair)
      worker.send({ type: "rotate", refreshToken: initial.refreshToken, callers: 25 });
    const results = await Promise.all(pair.map((worker) => worker.next<Rotated>("rotated")));

    for (const result of results) {
      expect(result.errors).toEqual([]);
      expect(result.pairs).toHaveLength(1);
    }
    expect(results[0]!.pairs).toEqual(results[1]!.pairs);
    const [accessToken, refreshToken] = results[0]!.pairs[0]!.split(" ");
    expect(accessToken).not.toBe(initial.accessToken);
    expect(refreshToken).not.toBe(initial.refreshToken);
    expect(provider.ledger).toEqual({ redeemed: 1, rejected: 0, revokedGrants: 0 });
    expect(results[0]!.stats.redemptions + results[1]!.stats.redemptions).toBe(1);

    // Not revoked: the new refresh token redeems once more.
    const next = await refreshTokenGrant({ ...grant, refreshToken })();
    expect(next.accessToken).toBeTypeOf("string");
    expect(next.refreshToken).not.toBe(refreshToken);
    expect(provider.ledger).toEqual({ redeemed: 2, rejected: 0, revokedGrants: 0 });
  }, 30_000);

  it("control: without the coordinator the same race revokes the grant", async () => {
    provider = await startOidcProvider();
    const grant = { tokenUrl: provider.tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret };
    const initial = await passwordGrant({ ...grant, username: USER.name, password: USER.password })();
    const redeem = refreshTokenGrant({ ...grant, refreshToken: initial.refreshToken });
    const outcomes = await Promise.allSettled([redeem(), redeem()]);
    const winner = outcomes.find((outcome) => outcome.status === "fulfilled");
    expect(outcomes.filter((outcome) => outcome.status === "rejected")).toHaveLength(1);
    // Reuse detection killed the family: the winner's new refresh token is dead too.
    const after = await refreshTokenGrant({ ...grant, refreshToken: winner!.value.refreshToken })().catch(
      (error: unknown) => error,
    );
    expect(after).toMatchObject({ error: "invalid_grant" });
    expect(provider.ledger).toMatchObject({ redeemed: 1, revokedGrants: 1 });
  }, 30_000);
});
