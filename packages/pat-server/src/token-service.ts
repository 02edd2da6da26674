import { ownerSchema, type PatRecord } from "@tokenkeep/pat-protocol";
import * as z from "zod";
import { DEFAULT_BOOTSTRAP_OWNER } from "./defaults";
import { parseOptions } from "./internal/options";
import { toPublicRecord } from "./internal/public-record";
import { normalizeRoles } from "./internal/roles";
import type { PatStore, StoredPatRecord } from "./store";
import { generateToken } from "./token-generator";

/** What to issue. Times are Unix seconds. */
export interface IssueTokenInput {
  readonly owner: string;
  /** @default false */
  readonly isAdmin?: boolean;
  /** @default [] */
  readonly roles?: readonly string[];
  readonly expiresAt?: number;
  /** @default a random id */
  readonly tokenId?: string;
}

/** How to issue. */
export interface IssueTokenOptions {
  /** @default "pat_" */
  readonly prefix?: string;
  /**
   * log2 of scrypt's cost N. Lower values are for tests only.
   * @default 14
   */
  readonly scryptLog2Cost?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

/** A newly issued token: the plaintext PAT (show once) and its public record. */
export interface IssuedToken {
  readonly token: string;
  readonly record: PatRecord;
}

async function newRecord(input: IssueTokenInput, options: IssueTokenOptions) {
  const generated = await generateToken({
    tokenId: input.tokenId,
    prefix: options.prefix,
    scryptLog2Cost: options.scryptLog2Cost,
  });
  const record: StoredPatRecord = {
    tokenId: generated.tokenId,
    secretPhc: generated.secretPhc,
    owner: input.owner,
    isAdmin: input.isAdmin ?? false,
    roles: normalizeRoles(input.roles ?? []),
    createdAt: Math.floor((options.now?.() ?? Date.now()) / 1000),
    lastUsedAt: null,
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
  };
  return { token: generated.token, record };
}

/**
 * Issues a token straight into a store, without HTTP (what `POST /admin/tokens` does). Input is trusted:
 * validate it with `issueTokenRequestSchema` first if it comes from outside.
 * @returns `undefined` when the `tokenId` exists already.
 */
export async function issueToken(
  store: PatStore,
  input: IssueTokenInput,
  options: IssueTokenOptions = {},
): Promise<IssuedToken | undefined> {
  const { token, record } = await newRecord(input, options);
  return (await store.insert(record)) ? { token, record: toPublicRecord(record) } : undefined;
}

/** Options of {@link bootstrapAdminToken}. */
export interface BootstrapAdminTokenOptions extends IssueTokenOptions {
  /** Owner of the admin token: 1 to 100 characters, no NUL, no unpaired surrogate, as the protocol's owners. @default "admin" */
  readonly owner?: string;
}

const bootstrapOptionsSchema = z.object({
  owner: ownerSchema.default(DEFAULT_BOOTSTRAP_OWNER),
  // generateToken checks these two.
  prefix: z.string().optional(),
  scryptLog2Cost: z.number().optional(),
  now: z.custom<() => number>((value) => typeof value === "function", "Expected a function").optional(),
});

/**
 * Creates an admin token when the store holds no active admin token (atomically, even against other
 * instances) and returns it, once. Returns `undefined` when an active admin token exists.
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for an owner the protocol refuses (empty,
 *   over 100 characters, a NUL, an unpaired surrogate), a bad prefix or cost, or an unknown option; nothing is stored then.
 */
export async function bootstrapAdminToken(
  store: PatStore,
  options: BootstrapAdminTokenOptions = {},
): Promise<IssuedToken | undefined> {
  const parsed = parseOptions(bootstrapOptionsSchema, options, "bootstrapAdminToken");
  const { token, record } = await newRecord({ owner: parsed.owner, isAdmin: true }, parsed);
  const nowSeconds = Math.floor((parsed.now?.() ?? Date.now()) / 1000);
  return (await store.insertIfNoActiveAdmin(record, nowSeconds))
    ? { token, record: toPublicRecord(record) }
    : undefined;
}
