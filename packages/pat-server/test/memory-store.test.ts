import { createMemoryStore } from "../src/memory-store";
import type { PatStore } from "../src/store";
import { describeStoreContract } from "./store-contract";

/** A view of `shared` with its own `close`, so the contract can "open the same data again". */
function view(shared: PatStore): PatStore {
  let closed = false;
  return new Proxy(shared, {
    get(target, name: keyof PatStore) {
      if (name === "close") {
        return async () => {
          closed = true;
        };
      }
      const method = target[name] as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        if (closed) throw new Error("The memory PAT store is closed");
        return method.apply(target, args);
      };
    },
  });
}

describeStoreContract("memory", async () => {
  const shared = createMemoryStore();
  return { open: () => view(shared), cleanup: () => shared.close() };
});
