import {
  batchTokensRequestSchema,
  issueTokenRequestSchema,
  isTokenId,
  listTokensQuerySchema,
  registerTokenRequestSchema,
  revokeTokenRequestSchema,
  updateTokenRequestSchema,
} from "@tokenkeep/pat-protocol";
import { issueToken } from "../token-service";
import { authenticateCaller } from "./authenticate";
import type { HandlerContext } from "./handler-context";
import { emptyResponse, HttpError, jsonResponse, readJsonBody } from "./http";
import { toPublicRecord } from "./public-record";
import { normalizeRoles } from "./roles";
import { validate } from "./validation";

const notFound = () => new HttpError(404, "Token not found", { code: "ERR_TOKEN_NOT_FOUND" });
const exists = () => new HttpError(409, "Token already exists", { code: "ERR_TOKEN_EXISTS" });

/** Routes a request under the admin path; `rest` is the path after it (e.g. `/tokens/abc/revoke`). */
export async function handleAdmin(ctx: HandlerContext, request: Request, rest: string): Promise<Response> {
  const segments = rest.split("/").slice(1);
  if (segments[0] !== "tokens" || segments.length > 3) throw new HttpError(404, "Not found");
  const method = request.method.toUpperCase();

  if (segments.length === 1) {
    if (method === "GET") return withAdmin(ctx, request, () => list(ctx, request));
    if (method === "POST") return withAdmin(ctx, request, () => issue(ctx, request));
    throw methodNotAllowed("GET, POST");
  }
  if (segments.length === 2 && segments[1] === "batch") {
    if (method === "POST") return withAdmin(ctx, request, () => batch(ctx, request));
    throw methodNotAllowed("POST");
  }
  const action = segments[2];
  if (segments.length === 2) {
    if (method !== "PUT" && method !== "PATCH") throw methodNotAllowed("PUT, PATCH");
  } else if (action === "revoke" || action === "restore") {
    if (method !== "PUT") throw methodNotAllowed("PUT");
  } else {
    throw new HttpError(404, "Not found");
  }
  return withAdmin(ctx, request, async () => {
    const tokenId = parseTokenIdSegment(segments[1]!);
    if (action === "revoke") return revoke(ctx, request, tokenId);
    if (action === "restore") return restore(ctx, tokenId);
    return method === "PUT" ? register(ctx, request, tokenId) : update(ctx, request, tokenId);
  });
}

function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, "Method not allowed", { headers: { allow } });
}

function parseTokenIdSegment(segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    decoded = "";
  }
  if (!isTokenId(decoded)) {
    throw new HttpError(400, "Invalid token id", {
      code: "ERR_VALIDATION",
      details: "Expected 21 characters of [A-Za-z0-9]",
    });
  }
  return decoded;
}

async function withAdmin(ctx: HandlerContext, request: Request, route: () => Promise<Response>) {
  await authenticateCaller(ctx, request, { admin: true });
  return route();
}

async function list(ctx: HandlerContext, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const query = validate(
    listTokensQuerySchema,
    Object.fromEntries(url.searchParams),
    "Invalid query parameters",
  );
  const records = await ctx.store.list({
    afterTokenId: query.afterTokenId,
    limit: query.limit + 1,
    includeRevoked: query.includeRevoked,
    includeExpired: query.includeExpired,
    hasRole: query.hasRole,
    nowSeconds: ctx.nowSeconds(),
  });
  const page = records.slice(0, query.limit);
  const nextAfterTokenId = records.length > query.limit ? page[page.length - 1]!.tokenId : null;
  return jsonResponse(200, {
    records: page.map((record) => toPublicRecord(record, query.includeSecretPhc)),
    nextAfterTokenId,
  });
}

async function batch(ctx: HandlerContext, request: Request): Promise<Response> {
  const body = validate(batchTokensRequestSchema, await readJsonBody(request, ctx.options.maxBodyBytes));
  const requested = [...new Set(body.tokenIds)];
  const records = await ctx.store.getMany(requested.filter(isTokenId));
  const byId = new Map(records.map((record) => [record.tokenId, record]));
  return jsonResponse(200, {
    found: requested.flatMap((id) => {
      const record = byId.get(id);
      return record ? [toPublicRecord(record, body.includeSecretPhc ?? false)] : [];
    }),
    notFound: requested.filter((id) => !byId.has(id)),
  });
}

async function issue(ctx: HandlerContext, request: Request): Promise<Response> {
  const body = validate(issueTokenRequestSchema, await readJsonBody(request, ctx.options.maxBodyBytes));
  if (body.tokenId !== undefined && (await ctx.store.get(body.tokenId))) throw exists();
  const issued = await issueToken(ctx.store, body, {
    prefix: ctx.options.tokenPrefix,
    scryptLog2Cost: ctx.options.scryptLog2Cost,
    now: ctx.options.now,
  });
  if (!issued) throw exists();
  return jsonResponse(201, issued);
}

async function register(ctx: HandlerContext, request: Request, tokenId: string): Promise<Response> {
  const body = validate(registerTokenRequestSchema, await readJsonBody(request, ctx.options.maxBodyBytes));
  const record = {
    tokenId,
    secretPhc: body.secretPhc,
    owner: body.owner,
    isAdmin: body.isAdmin ?? false,
    roles: normalizeRoles(body.roles ?? []),
    createdAt: ctx.nowSeconds(),
    lastUsedAt: null,
    expiresAt: body.expiresAt ?? null,
    revokedAt: null,
  };
  if (!(await ctx.store.insert(record))) throw exists();
  return jsonResponse(200, { record: toPublicRecord(record) });
}

async function update(ctx: HandlerContext, request: Request, tokenId: string): Promise<Response> {
  const body = validate(updateTokenRequestSchema, await readJsonBody(request, ctx.options.maxBodyBytes));
  const outcome = await ctx.store.update(tokenId, body);
  if (outcome === "not_found") throw notFound();
  if (outcome === "too_many_roles") {
    throw new HttpError(400, "Invalid request body", { code: "ERR_VALIDATION", details: "Too many roles" });
  }
  return emptyResponse();
}

async function revoke(ctx: HandlerContext, request: Request, tokenId: string): Promise<Response> {
  const body = validate(revokeTokenRequestSchema, await readJsonBody(request, ctx.options.maxBodyBytes, {}));
  const found = await ctx.store.revoke(tokenId, { revokedAt: ctx.nowSeconds(), expiresAt: body.expiresAt });
  if (!found) throw notFound();
  return emptyResponse();
}

async function restore(ctx: HandlerContext, tokenId: string): Promise<Response> {
  if (!(await ctx.store.restore(tokenId))) throw notFound();
  return emptyResponse();
}
