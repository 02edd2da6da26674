/**
 * Redis faults under a 4-process fleet: Redis killed, paused (SIGSTOP) past every timeout, restarted
 * empty, slow (latency added by a proxy, above and under the command timeout). Each process is a
 * token manager on `@tokenkeep/redis` under constant load; every "round" moves every process's clock
 * past the tokens' lifetime, so each round is one expiry. Claims: no caller fails; per expiry at most
 * one token fetch per instance (never a retry storm); and the fleet shares again (one fetch per
 * expiry) soon after the fault ends. The short mode uses short timeouts (inside `npm test`); the long
 * mode the documented defaults, and prints the README's table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODE } from "../src/mode";
import { logLine } from "../src/output";
import { type RedisFleet, startRedisFleet } from "../src/redis-fleet";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const url = process.env.TOKENKEEP_REDIS_URL;
if (!url && process.env.CI) throw new Error("TOKENKEEP_REDIS_URL is not set on CI");

/** Short: a short probe and lease, so each fault takes seconds. Long: every default. */
const S =
  MODE === "short"
    ? {
        size: 4,
        concurrency: 10,
        // The default command timeouts (a shorter one fails now and then on a loaded CI machine);
        // a short probe and lease so that each fault takes seconds.
        commandTimeoutMs: 500,
        share: { timeoutMs: 500, probeIntervalMs: 200, leaseTtlMs: 1_500 },
        roundMs: 700,
        faultMs: 2_000,
        slowMs: 1_000,
        slowUnderMs: 60,
        maxRecoveryMs: 8_000,
      }
    : {
        size: 4,
        concurrency: 50,
        commandTimeoutMs: 500,
        share: { timeoutMs: 500, probeIntervalMs: 5_000, leaseTtlMs: 15_000 },
        roundMs: 1_000,
        faultMs: 20_000,
        slowMs: 1_000,
        slowUnderMs: 150,
        maxRecoveryMs: 30_000,
      };
const LIFETIME_S = 60;
const JUMP_MS = (LIFETIME_S + 1) * 1_000;

type Fault = "killed" | "paused" | "restarted empty" | "slow" | "slow, under the timeout";

const INJECTED: Record<Fault, string> = {
  killed: `redis-server SIGKILLed, started again (empty) ${S.faultMs / 1_000} s later`,
  paused: `redis-server SIGSTOPped for ${S.faultMs / 1_000} s (past the ${S.commandTimeoutMs} ms command timeout and the ${S.share.leaseTtlMs / 1_000} s lease), then SIGCONT`,
  "restarted empty": "redis-server SIGKILLed and started again at once, empty",
  slow: `every chunk delayed ${S.slowMs} ms by the proxy for ${S.faultMs / 1_000} s (above the ${S.commandTimeoutMs} ms timeout)`,
  "slow, under the timeout": `every chunk delayed ${S.slowUnderMs} ms for ${S.faultMs / 1_000} s (under the timeout)`,
};

interface Figure {
  fault: Fault;
  injected: string;
  calls: number;
  failed: number;
  maxMs: number;
  faultRounds: number;
  faultFetches: number;
  /** Token fetches of each instance from the fault's start until the fleet shared again. */
  perInstance: number[];
  recoveryMs: number;
  lost: string;
}
const figures: Figure[] = [];

describe.skipIf(!url)(`Redis faults under a ${S.size}-process fleet (${MODE} mode)`, () => {
  let fleet: RedisFleet;

  beforeAll(async () => {
    fleet = await startRedisFleet({
      size: S.size,
      commandTimeoutMs: S.commandTimeoutMs,
      share: S.share,
      tokenLifetimeS: LIFETIME_S,
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.close();
    for (const figure of figures) logLine("redis-figures.jsonl", JSON.stringify(figure));
    if (MODE === "long" && figures.length > 0) {
      const rows = figures.map(
        (f) =>
          `| ${f.injected} | ${f.failed === 0 ? "a token, every call" : `${f.failed} failed calls`} (${f.calls} calls, slowest ${f.maxMs} ms) | ${f.recoveryMs} ms | ${f.faultFetches} over ${f.faultRounds} expiries (per instance: ${f.perInstance.join(", ")}) | ${f.lost} |`,
      );
      console.log(
        [
          "",
          "| injected | callers saw | until the fleet shared again | token fetches during the fault | lost |",
          "|---|---|---|---|---|",
          ...rows,
        ].join("\n"),
      );
    }
  });

  /** Requests the endpoint got since `from`, per worker. */
  function fetchesSince(from: number): Map<string, number> {
    const per = new Map<string, number>();
    for (const request of fleet.endpoint.requests.slice(from))
      per.set(request.worker ?? "?", (per.get(request.worker ?? "?") ?? 0) + 1);
    return per;
  }

  /**
   * One expiry: every clock jumps past the lifetime, then the round's requests settle. The jump waits
   * for every fetch in flight to end: a token in flight across a 61 s jump would arrive expired, which
   * only a test's clock can do.
   */
  async function round(): Promise<number> {
    for (;;) {
      const stats = await fleet.stats();
      if (stats.every((s) => s.stats.inFlight === 0)) break;
      await sleep(20);
    }
    const before = fleet.endpoint.requests.length;
    await fleet.advance(JUMP_MS);
    await sleep(S.roundMs);
    return fleet.endpoint.requests.length - before;
  }

  async function inject(fault: Fault): Promise<void> {
    switch (fault) {
      case "killed":
      case "restarted empty":
        await fleet.redis.stop();
        break;
      case "paused":
        process.kill(fleet.redis.pid!, "SIGSTOP");
        break;
      case "slow":
        fleet.proxy.latencyMs = S.slowMs;
        break;
      case "slow, under the timeout":
        fleet.proxy.latencyMs = S.slowUnderMs;
        break;
    }
  }

  async function remove(fault: Fault): Promise<void> {
    switch (fault) {
      case "killed":
      case "restarted empty":
        await fleet.redis.restart();
        break;
      case "paused":
        process.kill(fleet.redis.pid!, "SIGCONT");
        break;
      default:
        fleet.proxy.latencyMs = 0;
    }
  }

  async function scenario(fault: Fault): Promise<Figure> {
    fleet.startLoad(S.concurrency);
    // Healthy first: the fleet shares (one fetch per expiry).
    let shared = 0;
    for (let i = 0; i < 20 && shared < 2; i++) shared = (await round()) === 1 ? shared + 1 : 0;
    expect(shared, "the fleet shares before the fault").toBe(2);

    const from = fleet.endpoint.requests.length;
    let rounds = 0;
    await inject(fault);
    const faultStarted = performance.now();
    // "restarted empty" is a fault of no duration: the data is gone, the next expiry finds nothing.
    if (fault !== "restarted empty") {
      while (performance.now() - faultStarted < S.faultMs) {
        await round();
        rounds++;
      }
    }
    await remove(fault);
    const faultEnded = performance.now();

    // Recovery: the first expiry served by one fetch for the whole fleet, every process sharing.
    let recoveryMs = -1;
    while (performance.now() - faultEnded < S.maxRecoveryMs) {
      const fetched = await round();
      rounds++;
      const stats = await fleet.stats();
      if (fetched === 1 && stats.every((s) => !s.stats.storeDegraded)) {
        recoveryMs = Math.round(performance.now() - faultEnded);
        break;
      }
    }
    const perWorker = fetchesSince(from);
    const faultFetches = fleet.endpoint.requests.length - from;
    // ...and it keeps sharing.
    const after = [await round(), await round()];
    const loops = await fleet.stopLoad();

    const figure: Figure = {
      fault,
      injected: INJECTED[fault],
      calls: loops.reduce((sum, loop) => sum + loop.ok + loop.failed, 0),
      failed: loops.reduce((sum, loop) => sum + loop.failed, 0),
      maxMs: Math.max(...loops.map((loop) => loop.maxMs)),
      faultRounds: rounds,
      faultFetches,
      perInstance: fleet.workers.map((_, index) => perWorker.get(`w${index}`) ?? 0),
      recoveryMs,
      lost:
        fault === "killed" || fault === "restarted empty" ? "Redis's entries (one more fetch)" : "nothing",
    };
    figures.push(figure);

    expect(loops.flatMap((loop) => loop.errors)).toEqual([]);
    expect(figure.failed).toBe(0);
    expect(figure.calls).toBeGreaterThan(S.size * S.concurrency);
    expect(recoveryMs, "the fleet shares again").toBeGreaterThanOrEqual(0);
    expect(after).toEqual([1, 1]);
    // At worst one fetch per instance per expiry: never a retry storm.
    for (const [worker, fetches] of perWorker) expect(fetches, worker).toBeLessThanOrEqual(rounds);
    return figure;
  }

  const budget = MODE === "short" ? 30_000 : 180_000;

  it(
    "Redis killed, then started again empty: no caller fails, the fleet shares again",
    async () => {
      const figure = await scenario("killed");
      // Degraded while Redis was gone: the processes fetched on their own, more than once in all.
      expect(figure.faultFetches).toBeGreaterThan(1);
    },
    budget,
  );

  it(
    "Redis paused (SIGSTOP) past every timeout and the lease: no caller fails, the fleet shares again",
    async () => {
      const figure = await scenario("paused");
      expect(figure.faultFetches).toBeGreaterThan(1);
      // A frozen Redis holds a caller for the command timeouts, never for the whole pause.
      expect(figure.maxMs).toBeLessThan(S.faultMs);
    },
    budget,
  );

  it(
    "Redis restarted empty: the next expiry costs one fetch, nothing else",
    async () => {
      await scenario("restarted empty");
    },
    budget,
  );

  it(
    "Redis slower than the command timeout (latency proxy): no caller fails, the fleet shares again",
    async () => {
      const figure = await scenario("slow");
      expect(figure.faultFetches).toBeGreaterThan(1);
    },
    budget,
  );

  it(
    "Redis slow but under the timeout: no caller fails, the fleet shares again",
    async () => {
      // Not asserted: one fetch per expiry. A command near the timeout on a loaded machine sometimes
      // times out, and that expiry is fetched per process (the long mode's 300 ms round trip under a
      // 500 ms timeout made 18 fetches over 14 expiries). The figure shows it.
      await scenario("slow, under the timeout");
    },
    budget,
  );
});
