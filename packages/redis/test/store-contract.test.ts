import type { Store } from "@tokenkeep/core";
import { describeStoreContract } from "@tokenkeep/core/testing";
import { describe, expect, it } from "vitest";
import { createRedisStore, type RedisStore } from "../src/index.js";
import { redisUrlOrSkip } from "./support/redis-url.js";

const url = redisUrlOrSkip("store-contract.test.ts");
const close = (store: Store) => (store as RedisStore).close();

describe.skipIf(!url)("on a real Redis", () => {
  describeStoreContract(
    "redis store",
    () => createRedisStore({ url: url!, keyPrefix: "tktest:contract:" }),
    {
      describe,
      it,
      expect,
    },
    { dispose: close },
  );

  describeStoreContract(
    "redis store with encryption",
    () =>
      createRedisStore({
        url: url!,
        keyPrefix: "tktest:contract-enc:",
        encryptionKey: new Uint8Array(32).fill(1),
      }),
    { describe, it, expect },
    { dispose: close },
  );
});
