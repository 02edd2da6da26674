/**
 * @packageDocumentation
 * Test helpers for code built on @tokenkeep/core, published as `@tokenkeep/core/testing`. They
 * import no test framework: pass your runner's functions in.
 */

export {
  describeStoreContract,
  type StoreContractAssertion,
  type StoreContractHarness,
  type StoreContractOptions,
} from "./store-contract.js";
