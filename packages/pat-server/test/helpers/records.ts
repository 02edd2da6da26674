import type { StoredPatRecord } from "../../src/store";

/** A PHC string of the right shape; these records are never exchanged. */
export const SAMPLE_PHC =
  "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

let counter = 0;

/** A distinct valid token id: `prefix` padded to 21 characters. */
export function tokenId(prefix = "t"): string {
  counter += 1;
  const suffix = String(counter).padStart(6, "0");
  return `${prefix}${"x".repeat(21 - prefix.length - suffix.length)}${suffix}`;
}

/** A record with defaults, for store tests. */
export function record(overrides: Partial<StoredPatRecord> = {}): StoredPatRecord {
  return {
    tokenId: tokenId(),
    secretPhc: SAMPLE_PHC,
    owner: "owner@example.com",
    isAdmin: false,
    roles: [],
    createdAt: 1_700_000_000,
    lastUsedAt: null,
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}
