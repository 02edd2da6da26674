import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createSqliteStore } from "../src/sqlite/sqlite-store";
import { describeStoreContract } from "./store-contract";

describeStoreContract("SQLite (file)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tk-pat-sqlite-"));
  const path = join(dir, "tokens.db");
  return {
    open: () => createSqliteStore({ path }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe("createSqliteStore options", () => {
  it("rejects bad options with a TypeError carrying a code and the issues", () => {
    try {
      createSqliteStore({ path: "" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
      expect((error as Error).cause).toEqual([expect.stringMatching(/^path: /)]);
    }
  });

  it("works in memory", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    expect(await store.count()).toBe(0);
    await store.close();
  });
});
