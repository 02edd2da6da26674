// Exchanges per second for first-time and returning clients, over HTTP on 127.0.0.1, at the default
// scrypt cost (ln 14). A script that prints figures and ratios, never a test: timings depend on the
// machine. The server runs in this process, the load generator in a child process, so the server's
// CPU time per exchange (main thread and thread pool, from process.cpuUsage) is measured apart from the
// client's: that figure, unlike exchanges/s, does not depend on what else the machine runs.
// Run after building: `pnpm --filter @tokenkeep/pat-server run bench [-- --seconds 5]`.
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";

if (process.env.TOKENKEEP_BENCH_CLIENT) {
  // The load generator: `concurrency` loops, each exchanging PATs round-robin until the deadline.
  const { url, tokens, seconds, concurrency } = JSON.parse(process.env.TOKENKEEP_BENCH_CLIENT);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL("/auth/token", url);
  const exchange = (token) =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ client_secret: token });
      const req = request(
        target,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": body.length },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const deadline = performance.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const status = await exchange(tokens[next++ % tokens.length]);
        if (status === 200) ok += 1;
        else failed += 1;
      }
    }),
  );
  agent.destroy();
  process.stdout.write(JSON.stringify({ ok, failed }));
} else {
  const { createMemoryStore, createPatHandler, issueToken } = await import("../dist/index.js");
  const { serve } = await import("../dist/node/index.js");

  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv[0] === "--" ? argv.slice(1) : argv,
    options: {
      seconds: { type: "string", default: "5" },
      concurrency: { type: "string", default: "32" },
      tokens: { type: "string", default: "200" },
    },
  });
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);
  const tokenCount = Number(values.tokens);

  async function measure(label, { verifierCache, warm }) {
    const store = createMemoryStore();
    const handler = createPatHandler({ store, rateLimit: false, verifierCache, onError: () => {} });
    const served = await serve(handler);
    const issued = await Promise.all(
      Array.from({ length: tokenCount }, (_, i) => issueToken(store, { owner: `bench${i}` })),
    );
    const tokens = issued.map((entry) => entry.token);
    if (warm) {
      // Every client exchanges once: what follows is returning clients only.
      for (const token of tokens) {
        await handler(
          new Request(`${served.url}/auth/token`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}` },
          }),
          {},
        );
      }
    }
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const { ok, failed } = await new Promise((resolve, reject) => {
      const client = spawn(process.execPath, [new URL(import.meta.url).pathname], {
        env: {
          ...process.env,
          TOKENKEEP_BENCH_CLIENT: JSON.stringify({ url: served.url, tokens, seconds, concurrency }),
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let output = "";
      client.stdout.on("data", (chunk) => {
        output += chunk;
      });
      client.once("error", reject);
      client.once("close", (code) =>
        code === 0
          ? resolve(JSON.parse(output))
          : reject(new Error(`the load generator exited with ${code}`)),
      );
    });
    const cpu = process.cpuUsage(cpuBefore);
    const elapsed = (performance.now() - started) / 1000;
    await served.close();
    await handler.close();
    await store.close();
    const rate = ok / elapsed;
    const cpuMicros = (cpu.user + cpu.system) / Math.max(1, ok);
    console.log(
      `${label.padEnd(40)} ${rate.toFixed(0).padStart(6)} exchanges/s  ` +
        `server CPU ${cpuMicros.toFixed(0).padStart(6)} µs/exchange  (${ok} ok, ${failed} failed, ${elapsed.toFixed(1)} s)`,
    );
    return { rate, cpuMicros };
  }

  console.log(
    `pat-server exchange bench: ${availableParallelism()} cores, scrypt ln 14, ${tokenCount} tokens, ` +
      `${concurrency} concurrent requests, ${seconds} s each\n`,
  );
  const first = await measure("first exchanges (scrypt each time)", { verifierCache: false, warm: false });
  const returning = await measure("returning clients, verifier cache", {
    verifierCache: undefined,
    warm: true,
  });
  const uncached = await measure("returning clients, verifierCache: false", {
    verifierCache: false,
    warm: true,
  });
  const capacity = (result) => (2 * 1_000_000) / result.cpuMicros;
  console.log(`\nreturning / first (exchanges/s): ${(returning.rate / first.rate).toFixed(1)}x`);
  console.log(
    `returning with cache / without (CPU per exchange): ${(uncached.cpuMicros / returning.cpuMicros).toFixed(1)}x`,
  );
  console.log(
    `2 cores fully given to the server would serve about ${capacity(returning).toFixed(0)} returning ` +
      `exchanges/s (${capacity(first).toFixed(0)} first ones); target for returning clients: >= 2000 ` +
      `(${capacity(returning) >= 2000 ? "met" : "NOT met"}). Measured here: ${returning.rate.toFixed(0)}/s ` +
      `with the load generator and anything else on this machine sharing the cores.`,
  );
}
