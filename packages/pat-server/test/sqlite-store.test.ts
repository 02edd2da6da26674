import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { registerSecret } from "../../../test/reliability/src/secret-registry";
import { createPatHandler } from "../src/pat-handler";
import { createSqliteStore } from "../src/sqlite/sqlite-store";
import { isPatStoreUnavailableError } from "../src/store-unavailable-error";
import { issueToken } from "../src/token-service";
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

describe("SQLite file held by another process", () => {
  it("answers 503 with Retry-After (not a 500) while another connection holds the write lock, then serves the call", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tk-pat-sqlite-busy-"));
    const path = join(dir, "tokens.db");
    const store = createSqliteStore({ path, busyTimeoutMs: 20 });
    const errors: unknown[] = [];
    const handler = createPatHandler({ store, rateLimit: false, onError: ({ error }) => errors.push(error) });
    const other = new DatabaseSync(path); // another process's connection, as `bootstrap` run alongside
    try {
      const admin = await issueToken(store, { owner: "a", isAdmin: true }, { scryptLog2Cost: 4 });
      const exchanged = await handler(
        new Request("http://pat.test/auth/token", {
          method: "POST",
          headers: { authorization: `Bearer ${registerSecret(admin!.token, "PAT")}` },
        }),
      );
      const { access_token } = (await exchanged.json()) as { access_token: string };
      await handler.flush();
      const tokenId = admin!.record.tokenId;
      const revoke = () =>
        handler(
          new Request(`http://pat.test/admin/tokens/${tokenId}/revoke`, {
            method: "PUT",
            headers: { authorization: `Bearer ${registerSecret(access_token, "JWT")}` },
          }),
        );
      other.exec("BEGIN IMMEDIATE");
      const busy = await revoke();
      expect(busy.status).toBe(503);
      expect(busy.headers.get("retry-after")).toBe("1");
      expect(await busy.json()).toEqual({
        error: { message: "Service unavailable", code: "ERR_STORE_UNAVAILABLE" },
      });
      await expect(store.update(tokenId, { owner: "p" })).rejects.toSatisfy(isPatStoreUnavailableError);
      expect(errors.length).toBe(1);
      expect(errors.every(isPatStoreUnavailableError)).toBe(true);
      other.exec("COMMIT");
      expect((await revoke()).status).toBe(204);
      expect((await store.get(tokenId))?.revokedAt).not.toBeNull();
    } finally {
      other.close();
      await handler.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
