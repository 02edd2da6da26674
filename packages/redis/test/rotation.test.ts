import { rmSync } from "node:fs";
import { passwordGrant, refreshTokenGrant } from "@tokenkeep/grants";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectOtherSecret, expectSameSecret } from "../../../test/reliability/src/secret-assert.js";
import { registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { CLIENT, type RunningProvider, startOidcProvider, USER } from "./support/oidc-provider.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";
import { bundleWorker, startWorker, type WorkerProcess } from "./support/workers.js";

const url = redisUrlOrSkip("rotation.test.ts");

interface Rotated {
  pairs: string[];
  errors: string[];
  codes: string[];
  fulfilled: number;
  maxMs: number;
  stats: { redemptions: number; successorHits: number; coalesced: number; inDoubt: number };
}

describe.skipIf(!url)("two processes rotating one refresh token against oidc-provider", () => {
  let workerFile = "";
  const workers: WorkerProcess[] = [];
  let provider: RunningProvider | undefined;

  beforeAll(async () => {
    workerFile = await bundleWorker("rotation-worker");
  });
  afterAll(() => rmSync(workerFile, { force: true }));
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    for (const worker of workers.splice(0)) {
      try {
        process.kill(worker.pid, "SIGCONT");
      } catch {}
      worker.kill();
    }
    await provider?.close();
    await proxy?.close();
    proxy = undefined;
  });

  it("redeems it once: both get the same new pair and the grant stays alive", async () => {
    provider = await startOidcProvider();
    const grant = { tokenUrl: provider.tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret };
    const initial = await passwordGrant({ ...grant, username: USER.name, password: USER.password })();
    expect(initial.refreshToken).toBeTypeOf("string");

    const prefix = uniquePrefix("rotation");
    const encryptionKey = registerSecret(
      Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
      "encryption key",
    );
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
    expectSameSecret(results[0]!.pairs, results[1]!.pairs, "the token pairs both processes saw");
    const [accessToken, refreshToken] = results[0]!.pairs[0]!.split(" ");
    expectOtherSecret(accessToken, initial.accessToken, "the rotated access token");
    expectOtherSecret(refreshToken, initial.refreshToken, "the rotated refresh token");
    expect(provider.ledger).toEqual({ redeemed: 1, rejected: 0, revokedGrants: 0 });
    expect(results[0]!.stats.redemptions + results[1]!.stats.redemptions).toBe(1);

    // Not revoked: the new refresh token redeems once more.
    const next = await refreshTokenGrant({ ...grant, refreshToken })();
    expect(next.accessToken).toBeTypeOf("string");
    expectOtherSecret(next.refreshToken, refreshToken, "the next refresh token");
    expect(provider.ledger).toEqual({ redeemed: 2, rejected: 0, revokedGrants: 0 });
  }, 30_000);

  it("4 processes x 50 callers, a slow store and a lease holder frozen past its lease: one redemption, no reuse", async () => {
    // The holder is stopped (SIGSTOP) the moment the server has redeemed, before its answer leaves,
    // and stays stopped two lease lifetimes; meanwhile every store command takes 200 ms more. The
    // lease is long enough for a loaded CI machine (the suite runs two packages' tests at once) to
    // renew it in time: a holder that cannot is stopped by the protocol, safely, with no redemption.
    const leaseTtlMs = 2_000;
    const redeemTimeoutMs = 4_000;
    const storeTimeoutMs = 1_500;
    let holder: WorkerProcess | undefined;
    let frozen = false;
    provider = await startOidcProvider({
      onRefreshSuccess: () => {
        if (holder === undefined || frozen) return;
        process.kill(holder.pid, "SIGSTOP");
        frozen = true;
      },
    });
    proxy = await startTcpProxy(Number(new URL(url!).port));
    const grant = { tokenUrl: provider.tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret };
    const initial = await passwordGrant({ ...grant, username: USER.name, password: USER.password })();
    const init = {
      type: "init",
      redisUrl: `redis://127.0.0.1:${proxy.port}`,
      prefix: uniquePrefix("fleet"),
      encryptionKey: registerSecret(
        Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
        "encryption key",
      ),
      leaseTtlMs,
      redeemTimeoutMs,
      storeTimeoutMs,
      gate: true,
      ...grant,
    };
    const fleet = [0, 1, 2, 3].map(() => {
      const worker = startWorker(workerFile);
      workers.push(worker);
      worker.send(init);
      return worker;
    });
    await Promise.all(fleet.map((worker) => worker.next("ready")));
    // Every redemption announces itself; the first announcer is the holder. A second would be a bug,
    // and shows in the ledger.
    for (const worker of fleet) {
      const gate = (): void => {
        void worker.next("redeeming").then(
          () => {
            holder ??= worker;
            worker.send({ type: "go" });
            gate();
          },
          () => {},
        );
      };
      gate();
    }

    proxy.latencyMs = 100;
    for (const worker of fleet)
      worker.send({ type: "rotate", refreshToken: initial.refreshToken, callers: 50 });
    const done = Promise.all(fleet.map((worker) => worker.next<Rotated>("rotated")));
    await expect.poll(() => frozen, { timeout: 30_000, interval: 20 }).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2 * leaseTtlMs));
    process.kill(holder!.pid, "SIGCONT");
    const results = await done;
    proxy.latencyMs = 0;

    expect(provider.ledger).toEqual({ redeemed: 1, rejected: 0, revokedGrants: 0 });
    const pairs = new Set(results.flatMap((result) => result.pairs));
    expect(pairs.size).toBeLessThanOrEqual(1);
    const codes = new Set(results.flatMap((result) => result.codes));
    for (const code of codes) expect(code).toMatch(/^ERR_TOKENKEEP_(ROTATION_IN_DOUBT|TIMEOUT)$/);
    // Every caller settled: with the new pair or a coded error.
    for (const result of results) expect(result.fulfilled + result.codes.length).toBe(50);
    // Nobody waits past the documented bound (the frozen holder's own callers were frozen with it).
    const bound = redeemTimeoutMs + leaseTtlMs + 1_000 + 4 * storeTimeoutMs;
    for (const [index, result] of results.entries()) {
      if (fleet[index] !== holder) expect(result.maxMs).toBeLessThanOrEqual(bound);
    }
    // A late arrival in another process is never sent upstream again.
    const other = fleet.find((worker) => worker !== holder)!;
    other.send({ type: "rotate", refreshToken: initial.refreshToken, callers: 1 });
    const late = await other.next<Rotated>("rotated");
    expect(late.fulfilled + late.codes.length).toBe(1);
    expect(provider.ledger.redeemed).toBe(1);
    // When the new pair reached anyone, the family is alive upstream.
    if (pairs.size === 1) {
      const refreshToken = [...pairs][0]!.split(" ")[1];
      await expect(refreshTokenGrant({ ...grant, refreshToken })()).resolves.toMatchObject({
        accessToken: expect.any(String),
      });
      expect(provider.ledger).toEqual({ redeemed: 2, rejected: 0, revokedGrants: 0 });
    }
  }, 90_000);

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
