/**
 * What PAT clients were told, checked against what PostgreSQL holds afterwards: every PAT whose issue
 * was answered 201 exists, once, whole (a valid scrypt PHC that the PAT matches: it exchanges), every
 * acknowledged revocation holds, and no record exists that no client asked for.
 */
import { parseScryptPhc } from "@tokenkeep/pat-protocol";
import type { PatStore, StoredPatRecord } from "@tokenkeep/pat-server";
import { registerSecret } from "./secrets";

/** One client-side record of the load: what was asked, and what the answers said. */
export class PatLedger {
  /** Owners whose issue was sent (each owner is asked for once). */
  readonly asked = new Set<string>();
  /** owner -> the issued PAT and its id, for every 201. */
  readonly issued = new Map<string, { token: string; tokenId: string }>();
  /** Token ids whose revocation was acknowledged (204). */
  readonly revoked = new Set<string>();
  /** What callers saw, by kind (`issue 201`, `issue NETWORK`, `exchange 500`...). */
  readonly outcomes = new Map<string, number>();
  private next = 0;

  /** A fresh owner name for one issue. */
  owner(prefix: string): string {
    const owner = `${prefix}-${this.next++}`;
    this.asked.add(owner);
    return owner;
  }

  told(owner: string, token: string, tokenId: string): void {
    registerSecret(token, "issued PAT");
    if ([...this.issued.values()].some((known) => known.tokenId === tokenId)) {
      throw new Error(`token id ${tokenId} was issued twice`);
    }
    this.issued.set(owner, { token, tokenId });
  }

  count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  /** Outcomes as `kind: n` pairs, sorted, for figures and failure messages. */
  summary(): Record<string, number> {
    return Object.fromEntries([...this.outcomes].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** Every record of a store, in pages. */
export async function allRecords(store: PatStore): Promise<StoredPatRecord[]> {
  const records: StoredPatRecord[] = [];
  let afterTokenId: string | undefined;
  for (;;) {
    const page = await store.list({
      afterTokenId,
      limit: 1000,
      includeRevoked: true,
      includeExpired: true,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    records.push(...page);
    if (page.length < 1000) return records;
    afterTokenId = page.at(-1)!.tokenId;
  }
}

/**
 * The problems found (an empty list when nothing was lost, duplicated or half-written). `exchange`
 * sends a PAT to a running instance and returns the HTTP status.
 */
export async function audit(
  store: PatStore,
  ledger: PatLedger,
  exchange: (token: string) => Promise<number>,
): Promise<{ problems: string[]; records: number; unacknowledged: number }> {
  const problems: string[] = [];
  const records = (await allRecords(store)).filter((record) => record.owner !== "admin");
  const byOwner = new Map<string, StoredPatRecord[]>();
  for (const record of records) {
    byOwner.set(record.owner, [...(byOwner.get(record.owner) ?? []), record]);
    if (!parseScryptPhc(record.secretPhc)) problems.push(`${record.tokenId}: no valid scrypt PHC`);
    if (!(record.createdAt > 0)) problems.push(`${record.tokenId}: no createdAt`);
    if (!ledger.asked.has(record.owner))
      problems.push(`${record.tokenId}: owner ${record.owner} never asked`);
  }
  for (const [owner, found] of byOwner) {
    if (found.length > 1) problems.push(`${owner}: ${found.length} records (issued twice)`);
  }
  let unacknowledged = 0;
  for (const owner of byOwner.keys()) if (!ledger.issued.has(owner)) unacknowledged++;
  for (const [owner, { token, tokenId }] of ledger.issued) {
    const record = byOwner.get(owner)?.[0];
    if (!record) {
      problems.push(`${owner}: told issued (${tokenId}) but not stored (lost)`);
      continue;
    }
    if (record.tokenId !== tokenId) problems.push(`${owner}: stored as ${record.tokenId}, told ${tokenId}`);
    const revoked = ledger.revoked.has(tokenId);
    if (revoked && record.revokedAt === null)
      problems.push(`${tokenId}: revocation acknowledged, not stored`);
    const status = await exchange(token);
    const expected = record.revokedAt === null ? 200 : 401;
    if (status !== expected) problems.push(`${tokenId}: exchange answered ${status}, expected ${expected}`);
  }
  return { problems, records: records.length, unacknowledged };
}
