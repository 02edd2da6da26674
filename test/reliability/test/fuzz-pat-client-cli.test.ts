/**
 * Fuzzing the `tokenkeep-pat` command line: its argument parsers, and whole command lines (commands,
 * flags and values mixed at random) run by `runCli` against a real pat-server on 127.0.0.1 with an
 * admin PAT. Every run ends with exit code 0, 1 or 2, never a thrown error, and the admin PAT never
 * appears in what the command printed. Seeds: see src/fuzz.ts.
 *
 * The parsers and `runCli` are not exported by `@tokenkeep/pat-client` (the command is its `bin`), so
 * they are imported from its source, as its own tests do.
 */

import { createMemoryStore, createPatHandler, issueToken, type PatHandler } from "@tokenkeep/pat-server";
import { type ServedHandler, serve } from "@tokenkeep/pat-server/node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  collect,
  parseDurationSeconds,
  parseLimit,
  parseRetries,
  parseUnixSeconds,
} from "../../../packages/pat-client/src/cli/parse-args";
import { runCli } from "../../../packages/pat-client/src/cli/program";
import { check } from "../src/fuzz";
import { SCALE } from "../src/mode";
import { findLeaks, registerSecret } from "../src/secrets";

describe("argument parsers", () => {
  const text = fc.oneof(
    fc.string(),
    fc.nat().map(String),
    fc.integer().map(String),
    fc
      .tuple(fc.nat({ max: 99_999 }), fc.constantFrom("s", "m", "h", "d", "w", "y", "x", ""))
      .map(([n, u]) => `${n}${u}`),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  );

  it("each returns a value in its range or throws commander's InvalidArgumentError", async () => {
    // parseUnixSeconds may return a time before 1970: the expiry check after it refuses a past expiry.
    const parsers: [string, (value: string) => number, (n: number) => boolean][] = [
      ["parseDurationSeconds", parseDurationSeconds, (n) => Number.isSafeInteger(n) && n >= 0],
      ["parseUnixSeconds", parseUnixSeconds, (n) => Number.isFinite(n)],
      ["parseLimit", parseLimit, (n) => Number.isInteger(n) && n >= 1 && n <= 1000],
      ["parseRetries", parseRetries, (n) => Number.isInteger(n) && n >= 0 && n <= 10],
    ];
    for (const [name, parse, inRange] of parsers) {
      await check(
        name,
        fc.property(text, (value) => {
          let result: number;
          try {
            result = parse(value);
          } catch (error) {
            // commander's InvalidArgumentError (not a dependency of this package: matched by its code)
            expect((error as { code?: unknown }).code).toBe("commander.invalidArgument");
            return;
          }
          expect(inRange(result), `${name}(${JSON.stringify(value)}) = ${result}`).toBe(true);
        }),
      );
    }
    await check(
      "collect",
      fc.property(fc.string(), fc.array(fc.string()), (value, previous) => {
        const all = collect(value, previous);
        expect(all.slice(0, previous.length)).toEqual(previous);
        for (const item of all.slice(previous.length)) {
          expect(item).toBe(item.trim());
          expect(item).not.toContain(",");
          expect(item).not.toBe("");
        }
      }),
    );
  });
});

describe("whole command lines against a real pat-server", () => {
  const store = createMemoryStore();
  let handler: PatHandler;
  let served: ServedHandler;
  let adminPat = "";
  let tokenId = "";
  const saved: Record<string, string | undefined> = {};
  const ENV = [
    "TOKENKEEP_PAT_ENDPOINT",
    "TOKENKEEP_PAT",
    "TOKENKEEP_PAT_ADMIN_TOKEN",
    "TOKENKEEP_PAT_TIMEOUT_MS",
  ];

  beforeAll(async () => {
    for (const name of ENV) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
    handler = createPatHandler({ store, scryptLog2Cost: 10, rateLimit: false });
    served = await serve(handler);
    const admin = await issueToken(store, { owner: "admin", isAdmin: true }, { scryptLog2Cost: 10 });
    adminPat = registerSecret(admin!.token, "admin PAT (CLI)");
    tokenId = admin!.record.tokenId;
  });
  afterAll(async () => {
    await served.close();
    await handler.close();
    for (const name of ENV) if (saved[name] !== undefined) process.env[name] = saved[name];
  });

  const word = fc.oneof(
    fc.constantFrom(
      "list",
      "issue",
      "register",
      "update",
      "revoke",
      "restore",
      "exchange",
      "help",
      "--help",
      "--json",
      "--all",
      "--admin",
      "--no-admin",
      "--no-expiry",
      "--include-revoked",
      "--owner",
      "--role",
      "--roles",
      "--limit",
      "--after",
      "--expires-at",
      "--expires-in",
      "--secret-phc",
      "--retries",
      "--auth-path",
      "--admin-path",
      "--has-role",
      "-x",
      "--",
      "TOKEN_ID",
      "ADMIN_PAT",
      "0",
      "30d",
      "2027-01-31",
      "reader,writer",
    ),
    fc.string({ maxLength: 12 }),
  );

  it("exits 0, 1 or 2, never throws, never prints the admin PAT", async () => {
    await check(
      "runCli",
      fc.asyncProperty(fc.array(word, { maxLength: 7 }), fc.boolean(), async (words, withToken) => {
        const argv = [
          "--endpoint",
          served.url,
          "--retries",
          "0",
          ...(withToken ? ["--token", adminPat] : []),
          ...words.map((w) => (w === "TOKEN_ID" ? tokenId : w === "ADMIN_PAT" ? adminPat : w)),
        ];
        let out = "";
        const code = await runCli(argv, {
          stdout: (text) => {
            out += text;
          },
          stderr: (text) => {
            out += text;
          },
        });
        expect([0, 1, 2]).toContain(code);
        expect(findLeaks([{ label: "admin PAT", secret: adminPat }], [{ where: "cli", text: out }])).toEqual(
          [],
        );
      }),
      SCALE.cliRuns,
    );
  });
});
