import { describe, expect, it } from "vitest";
import { createPostgresStore } from "../src/postgres-store";
import { dropSchema, pgSkipReason, pgUrl, uniqueSchema } from "./helpers/postgres";
import { describeStoreContract } from "./store-contract";

const skip = pgSkipReason("PostgreSQL store contract");

describe.skipIf(skip)("PostgreSQL", () => {
  describeStoreContract("PostgreSQL", async () => {
    const schema = uniqueSchema();
    return {
      open: () => createPostgresStore({ connectionString: pgUrl!, schema, maxConnections: 4 }),
      cleanup: () => dropSchema(schema),
    };
  });

  it("rejects options with both a pool and a connection string missing", () => {
    expect(() => createPostgresStore({})).toThrow(
      expect.objectContaining({ code: "ERR_PAT_POSTGRES_OPTIONS" }),
    );
    expect(() => createPostgresStore({ connectionString: pgUrl!, schema: 'x"; drop' })).toThrow(TypeError);
  });
});
