/**
 * A rotation coordinator on its own connection to one Redis, as each instance of a service has: the
 * shared setup of the tests that run several instances against one store.
 */
import type { Store } from "@tokenkeep/core";
import {
  createRotationCoordinator,
  type RotationCoordinator,
  type RotationCoordinatorOptions,
} from "@tokenkeep/core/rotation";
import { shareStore } from "@tokenkeep/core/shared";
import { createClient } from "redis";
import { createRedisStore, type RedisStore } from "../../src/index.js";

/**
 * Connects to `url`, shares a Redis store under `keyPrefix` (through `wrap`, to observe or delay its
 * calls) with a 5 s store timeout, and makes the coordinator; `closers` gets its disposal, then the
 * connection's close.
 */
export async function coordinatorOnRedis(
  url: string,
  keyPrefix: string,
  closers: Array<() => Promise<unknown>>,
  options: Omit<RotationCoordinatorOptions, "shared">,
  wrap: (store: RedisStore) => Store = (store) => store,
): Promise<RotationCoordinator> {
  const client = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  const coordinator = createRotationCoordinator({
    ...options,
    shared: shareStore(wrap(createRedisStore({ client, keyPrefix })), { timeoutMs: 5_000 }),
  });
  closers.push(async () => {
    await coordinator.dispose();
    await client.close();
  });
  return coordinator;
}
