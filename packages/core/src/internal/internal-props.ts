/**
 * Property names the build shortens (esbuild's `mangleProps`, see `tsup.config.ts`): fields of objects
 * that never leave the manager, which a consumer's minifier cannot rename and so would ship in every
 * bundle. Only names that are no public option or type member, no stored or wire field and no error
 * field belong here; `internal-props.test.ts` checks that each is used only in the files listed.
 * Not imported by any entry: build configuration, kept beside the code it names.
 */
export const INTERNAL_PROPS = {
  /** A cache entry's timeline (`Entry` in the token manager). */
  usableUntil: ["manager/token-manager.ts", "manager/refresh-ahead.ts"],
  /** From when a cache entry is refreshed ahead (not `TokenSet.refreshAt`, the server's hint). */
  aheadAt: ["manager/token-manager.ts"],
  retryAt: ["manager/token-manager.ts"],
  failures: ["manager/token-manager.ts"],
  /** Until when a replacement token is not invalidated again (`unauthorizedCooldownMs`). */
  keepUntil: ["manager/token-manager.ts"],
  /** The LRU mark of a cache entry. */
  hot: ["manager/token-manager.ts", "internal/lru.ts", "internal/windows.ts"],
  /** A flight's abort controller (`Flight`). */
  controller: ["manager/token-manager.ts", "manager/single-flight.ts"],
  /** A deadline's clean-up (`Deadline`, internal/deadline.ts). */
  release: ["internal/deadline.ts", "rotation/rotation.ts"],
  /** A flight's shared promise (`Flight`). */
  settled: ["manager/token-manager.ts", "manager/single-flight.ts"],
} as const satisfies Record<string, readonly string[]>;

/** The `mangleProps` pattern of {@link INTERNAL_PROPS}. */
export const internalPropsPattern = (): RegExp => new RegExp(`^(${Object.keys(INTERNAL_PROPS).join("|")})$`);
