import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { expectNoSecretIn, expectSecretMatches } from "../../../test/reliability/src/secret-assert.js";
import { runCli } from "../src/node/run-cli";
import { dropSchema, pgSkipReason, pgUrl, uniqueSchema } from "./helpers/postgres";

function capture(signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), signal },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

/** Waits for `start`'s "listening" line: up to 15 s, as a loaded CI machine may be slow to start it. */
async function listeningUrl(run: ReturnType<typeof capture>, exited: Promise<number>): Promise<string> {
  let done = false;
  void exited.then(() => {
    done = true;
  });
  for (let i = 0; i < 750 && !done; i++) {
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(run.out())?.[1];
    if (url) return url;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`start did not listen: ${run.err()}`);
}

describe("tokenkeep-pat-server", () => {
  let dir: string;
  let database: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tk-pat-cli-"));
    database = join(dir, "tokens.db");
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Starts the server with a rate limit of 2 exchanges per address and the given trust-proxy
   * setting, sends six exchanges from six `X-Forwarded-For` addresses, and returns their statuses.
   */
  async function statusesBehindProxy(args: readonly string[], env: string | undefined): Promise<number[]> {
    if (env === undefined) vi.stubEnv("TOKENKEEP_PAT_TRUST_PROXY", undefined);
    else vi.stubEnv("TOKENKEEP_PAT_TRUST_PROXY", env);
    const controller = new AbortController();
    const run = capture(controller.signal);
    const exited = runCli(
      ["start", "--database", database, "--port", "0", "--rate-limit", "2", ...args],
      run.io,
    );
    try {
      const url = await listeningUrl(run, exited);
      const statuses: number[] = [];
      for (let i = 1; i <= 6; i++) {
        const answer = await fetch(`${url}/auth/token`, {
          method: "POST",
          headers: { authorization: "Bearer not-a-pat", "x-forwarded-for": `203.0.113.${i}` },
        });
        await answer.arrayBuffer();
        statuses.push(answer.status);
      }
      return statuses;
    } finally {
      controller.abort();
      expect(await exited).toBe(0);
    }
  }

  it("parses --trust-proxy and TOKENKEEP_PAT_TRUST_PROXY strictly: false and 0 mean off", async () => {
    const limited = [401, 401, 429, 429, 429, 429];
    const perAddress = [401, 401, 401, 401, 401, 401];
    expect(await statusesBehindProxy([], undefined)).toEqual(limited);
    expect(await statusesBehindProxy([], "false")).toEqual(limited);
    expect(await statusesBehindProxy([], "0")).toEqual(limited);
    expect(await statusesBehindProxy([], "true")).toEqual(perAddress);
    expect(await statusesBehindProxy([], "1")).toEqual(perAddress);
    expect(await statusesBehindProxy(["--trust-proxy"], undefined)).toEqual(perAddress);
    expect(await statusesBehindProxy(["--trust-proxy", "false"], undefined)).toEqual(limited);
    // A flag wins over the environment.
    expect(await statusesBehindProxy(["--trust-proxy=0"], "true")).toEqual(limited);
  }, 60_000);

  it("refuses any other trust-proxy value with exit code 2, naming the variable or the flag", async () => {
    for (const value of ["", "yes", "False", "off"]) {
      vi.stubEnv("TOKENKEEP_PAT_TRUST_PROXY", value);
      const run = capture();
      expect(await runCli(["start", "--database", database, "--port", "0"], run.io)).toBe(2);
      expect(run.err()).toContain("TOKENKEEP_PAT_TRUST_PROXY");
      expect(run.err()).toContain("expected true, 1, false or 0");
      expect(run.out()).not.toContain("listening");
    }
    vi.unstubAllEnvs();
    const flag = capture();
    expect(await runCli(["start", "--database", database, "--trust-proxy=yes"], flag.io)).toBe(2);
    expect(flag.err()).toContain("--trust-proxy");
    expect(flag.err()).toContain("expected true, 1, false or 0");
  });

  it("names the variable of a bad whole number read from the environment (exit code 2)", async () => {
    vi.stubEnv("TOKENKEEP_PAT_RATE_LIMIT", "sixty");
    const run = capture();
    expect(await runCli(["start", "--database", database, "--port", "0"], run.io)).toBe(2);
    expect(run.err()).toContain("TOKENKEEP_PAT_RATE_LIMIT");
    expect(run.err()).toContain("expected a whole number");
  });

  it("bootstrap prints an admin token once, then refuses", async () => {
    const first = capture();
    expect(await runCli(["bootstrap", "--database", database, "--owner", "ops"], first.io)).toBe(0);
    const token = first.out().trim();
    expectSecretMatches(token, /^pat_[A-Za-z0-9]{21}\.[A-Za-z0-9+/]{43}=$/, "the printed PAT");
    expect(first.err()).toContain("for ops");
    expectNoSecretIn(first.err(), token.slice(26), "stderr");
    const second = capture();
    expect(await runCli(["bootstrap", "--database", database], second.io)).toBe(1);
    expect(second.out()).toBe("");
    expect(second.err()).toMatch(/exists already/);
  });

  it("bootstrap refuses an --owner the protocol refuses with exit code 2, creating nothing", async () => {
    for (const [owner, reason] of [
      ["", "Too small"],
      ["o".repeat(300), "Too big"],
    ] as const) {
      const run = capture();
      expect(await runCli(["bootstrap", "--database", database, "--owner", owner], run.io)).toBe(2);
      expect(run.err()).toContain("--owner");
      expect(run.err().toLowerCase()).toContain(reason.toLowerCase());
      expect(run.out()).toBe("");
    }
    // Nothing was created: the first valid bootstrap still makes the admin token.
    const valid = capture();
    expect(await runCli(["bootstrap", "--database", database, "--owner", "ops"], valid.io)).toBe(0);
  });

  it("genkey --out writes a new key file readable by its owner only, and never replaces one", async () => {
    const keysFile = join(dir, "keys.json");
    const first = capture();
    expect(await runCli(["genkey", "--out", keysFile], first.io)).toBe(0);
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    expect(first.out()).toBe(""); // the private key is not echoed
    const written = readFileSync(keysFile, "utf8");
    expect(JSON.parse(written)).toMatchObject({ keys: [{ alg: "EdDSA", kid: expect.any(String) }] });

    const second = capture();
    expect(await runCli(["genkey", "--out", keysFile], second.io)).toBe(1);
    expect(second.err()).toMatch(/exists already/);
    expect(readFileSync(keysFile, "utf8")).toBe(written);
  });

  it("start warns when the signing key file is readable by other users", async () => {
    const keysFile = join(dir, "keys.json");
    await runCli(["genkey", "--out", keysFile], capture().io);
    chmodSync(keysFile, 0o644);
    const run = capture();
    // An unusable port makes `start` stop right after reading the keys.
    expect(
      await runCli(
        ["start", "--database", database, "--signing-keys-file", keysFile, "--port", "99999"],
        run.io,
      ),
    ).not.toBe(0);
    expect(run.err()).toContain("other users may read it");
  });

  it("starts, serves the bootstrapped token and the health route, and shuts down on signal", async () => {
    const boot = capture();
    await runCli(["bootstrap", "--database", database], boot.io);
    const keys = capture();
    await runCli(["genkey"], keys.io);
    const keysFile = join(dir, "keys.json");
    writeFileSync(keysFile, keys.out());

    const controller = new AbortController();
    const run = capture(controller.signal);
    const exited = runCli(
      [
        "start",
        "--database",
        database,
        "--port",
        "0",
        "--jwt-lifetime",
        "60",
        "--signing-keys-file",
        keysFile,
      ],
      run.io,
    );
    let url: string | undefined;
    // Wait for the "listening" line: up to 15 s, as a loaded CI machine may be slow to start it.
    for (let i = 0; i < 750 && !url; i++) {
      url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(run.out())?.[1];
      if (!url) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(url).toBeDefined();
    expect(run.err()).not.toContain("ephemeral");
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
    const exchanged = await fetch(`${url}/auth/token`, {
      method: "POST",
      headers: { authorization: `Bearer ${boot.out().trim()}` },
    });
    expect(exchanged.status).toBe(200);
    expect(((await exchanged.json()) as { expires_in: number }).expires_in).toBe(60);
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys[0]!.kid).toBe((JSON.parse(keys.out()) as { keys: { kid: string }[] }).keys[0]!.kid);

    controller.abort();
    expect(await exited).toBe(0);
    expect(run.out()).toContain("shutting down");
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 30_000);

  it("reports a broken signing keys file without echoing its content (exit code 1)", async () => {
    const keysFile = join(dir, "keys.json");
    writeFileSync(keysFile, "PRIVATEKEYMATERIAL0123456789");
    const run = capture();
    const args = ["start", "--database", database, "--port", "0", "--signing-keys-file", keysFile];
    expect(await runCli(args, run.io)).toBe(1);
    expect(run.err()).toContain("--signing-keys-file: not valid JSON");
    expectNoSecretIn(run.err(), /PRIVATEKEY/, "stderr");
    writeFileSync(keysFile, JSON.stringify({ d: "PRIVATEKEYMATERIAL0123456789" }));
    const shape = capture();
    expect(await runCli(args, shape.io)).toBe(1);
    expect(shape.err()).toContain("--signing-keys-file: expected");
    expectNoSecretIn(shape.err(), /PRIVATEKEY/, "stderr");
  });

  it("rejects bad flags with exit code 2", async () => {
    const bad = capture();
    expect(await runCli(["start", "--port", "eighty"], bad.io)).toBe(2);
    expect(bad.err()).toMatch(/--port/);
    const unknown = capture();
    expect(await runCli(["start", "--colour", "blue"], unknown.io)).not.toBe(0);
  });

  it.skipIf(pgSkipReason("CLI on PostgreSQL"))("bootstraps on PostgreSQL", async () => {
    const schema = uniqueSchema();
    try {
      const first = capture();
      expect(
        await runCli(["bootstrap", "--postgres-url", pgUrl!, "--postgres-schema", schema], first.io),
      ).toBe(0);
      const second = capture();
      expect(
        await runCli(["bootstrap", "--postgres-url", pgUrl!, "--postgres-schema", schema], second.io),
      ).toBe(1);
      expectNoSecretIn(first.err() + second.err(), pgUrl!, "stderr");
    } finally {
      await dropSchema(schema);
    }
  });
});
