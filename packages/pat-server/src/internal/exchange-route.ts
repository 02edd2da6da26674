import { parsePat, tokenExchangeRequestSchema } from "@tokenkeep/pat-protocol";
import type { RequestContext } from "../pat-handler";
import type { StoredPatRecord } from "../store";
import { fromBase64 } from "./bytes";
import type { HandlerContext } from "./handler-context";
import {
  HttpError,
  isJsonMediaType,
  jsonResponse,
  mediaType,
  parseJson,
  readBody,
  unsupportedMediaType,
} from "./http";
import { isActive } from "./public-record";
import { rateLimitKey } from "./rate-limit-key";
import { validate } from "./validation";

const invalidToken = () => new HttpError(401, "Invalid Authorization token");

/** `POST <authPath>/token`: exchanges a PAT for a JWT. Every PAT failure is the same 401. */
export async function handleExchange(
  ctx: HandlerContext,
  request: Request,
  context: RequestContext,
): Promise<Response> {
  if (request.method.toUpperCase() !== "POST") {
    throw new HttpError(405, "Method not allowed", { headers: { allow: "POST" } });
  }
  if (ctx.rateLimiter) {
    const address = ctx.options.getClientAddress?.(request, context) ?? context.clientAddress;
    if (!address) {
      // One shared bucket would let one abuser lock every client out: refuse instead, loudly.
      throw Object.assign(
        new Error(
          "Rate limiting needs the client address: pass { clientAddress } as the handler's second argument, " +
            "set getClientAddress, or set rateLimit: false",
        ),
        { code: "ERR_PAT_NO_CLIENT_ADDRESS" },
      );
    }
    const decision = ctx.rateLimiter.take(rateLimitKey(address));
    if (!decision.allowed) {
      throw new HttpError(429, "Too many requests", {
        code: "ERR_RATE_LIMITED",
        headers: { "retry-after": String(decision.retryAfterSeconds) },
      });
    }
  }

  const body = validate(tokenExchangeRequestSchema, await readExchangeBody(ctx, request));
  if (body.grant_type !== undefined && body.grant_type !== "client_credentials") {
    throw new HttpError(400, "Unsupported grant_type", { code: "ERR_UNSUPPORTED_GRANT_TYPE" });
  }
  const token = credentialsOf(request, body.client_secret);
  const { record, nowSeconds } = await verifyPat(ctx, token);

  const keys = await ctx.keys();
  // The instant the record was found active: `expiresAt > nowSeconds`, so the JWT lives at least 1 s.
  const { jwt, expiresInSeconds } = await keys.sign(record, nowSeconds);
  return jsonResponse(200, {
    access_token: jwt,
    token_type: "Bearer",
    expires_in: expiresInSeconds,
    ...(body.state !== undefined && { state: body.state }),
  });
}

const EXCHANGE_MEDIA_TYPES = "application/x-www-form-urlencoded or application/json";

async function readExchangeBody(ctx: HandlerContext, request: Request): Promise<unknown> {
  const type = mediaType(request);
  const form = type === "application/x-www-form-urlencoded";
  // A declared type we cannot read is refused before the body is read.
  if (type !== "" && !form && !isJsonMediaType(type)) throw unsupportedMediaType(EXCHANGE_MEDIA_TYPES);
  const bytes = await readBody(request, ctx.options.maxBodyBytes);
  if (bytes.byteLength === 0) return {};
  if (form) return Object.fromEntries(new URLSearchParams(new TextDecoder().decode(bytes)));
  if (type !== "") return parseJson(bytes);
  throw unsupportedMediaType(EXCHANGE_MEDIA_TYPES);
}

/**
 * The Basic password as the PAT: RFC 6749 (section 2.3.1) has OAuth clients form-url-encode the
 * secret before base64, so a PAT's `=`, `+` and `/` may arrive as `%3D`, `%2B`, `%2F`. A PAT as
 * sent raw never holds a `%` (neither its prefix nor its base64 can), so one that does is decoded; a
 * `+` stays a `+` (a PAT holds no space, and a raw PAT's `+` must survive). Undecodable: 401 later.
 */
function basicPassword(password: string): string {
  if (!password.includes("%")) return password;
  try {
    return decodeURIComponent(password);
  } catch {
    return password;
  }
}

/** The PAT: `client_secret` when non-empty, else the Basic password, else the Bearer token. */
function credentialsOf(request: Request, clientSecret: string | undefined): string {
  if (clientSecret) return clientSecret;
  const header = request.headers.get("authorization") ?? "";
  const basic = /^Basic +(\S*) *$/i.exec(header);
  if (basic) {
    let decoded = "";
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(basic[1]!), (c) => c.charCodeAt(0)));
    } catch {
      // fall through: not base64
    }
    const colon = decoded.indexOf(":");
    if (colon === -1) throw new HttpError(401, "Invalid Basic authentication format");
    return basicPassword(decoded.slice(colon + 1));
  }
  const bearer = /^Bearer +(\S+) *$/i.exec(header);
  if (bearer) return bearer[1]!;
  throw new HttpError(400, "Missing credentials: provide client_secret, Basic auth, or Bearer token", {
    code: "ERR_MISSING_CREDENTIALS",
  });
}

/**
 * parse -> load -> verify (the cached verifier of a returning client, else scrypt + constant-time
 * compare) -> load again after scrypt -> revoked -> expired (`<=`) -> record use. Revocation and
 * expiry are read from the store on every exchange, cached verifier or not, and after scrypt: a
 * verification may wait in the queue, and a revocation (or a rotated secret) that lands meanwhile
 * wins. Returns the record as read last, with the time it was found active at.
 */
async function verifyPat(
  ctx: HandlerContext,
  token: string,
): Promise<{ record: StoredPatRecord; nowSeconds: number }> {
  const parsed = parsePat(token, { prefix: ctx.options.tokenPrefix });
  if (!parsed.ok) throw invalidToken();
  const secret = fromBase64(parsed.secret);
  let record = await ctx.store.get(parsed.tokenId);
  if (!record)
    return { record: await unknownTokenId(ctx, parsed.tokenId, secret), nowSeconds: ctx.nowSeconds() };
  const verifiedPhc = record.secretPhc;
  const cached = (await ctx.verifierCache?.matches(record.tokenId, secret, verifiedPhc)) ?? false;
  if (!cached) {
    // A wrong secret always pays scrypt, cached id or not: its timing says nothing about the id.
    if (!(await ctx.verifySecret(secret, verifiedPhc))) throw invalidToken();
    await ctx.verifierCache?.remember(record.tokenId, secret, verifiedPhc);
    // scrypt may have waited in the queue: what the store holds now decides (the same 401 as ever
    // for a token revoked, expired, deleted or given a new secret since it was first read).
    record = await ctx.store.get(parsed.tokenId);
    if (!record || record.secretPhc !== verifiedPhc) throw invalidToken();
  }
  const now = ctx.nowSeconds();
  if (!isActive(record, now)) throw invalidToken();
  ctx.usage.record(record.tokenId, now);
  return { record, nowSeconds: now };
}

/**
 * An id the store does not hold: the original's bootstrap when configured and no admin is active;
 * otherwise one scrypt run against a PHC nothing matches, so it answers as slowly as a wrong secret.
 */
async function unknownTokenId(
  ctx: HandlerContext,
  tokenId: string,
  secret: Uint8Array,
): Promise<StoredPatRecord> {
  const secretPhc = ctx.options.bootstrapSecretPhc;
  const now = ctx.nowSeconds();
  // One scrypt run and no further store query before it, whatever the id: the answer's timing does
  // not tell an unknown id from a wrong secret. Only the bootstrap secret's holder gets further.
  if (!(await ctx.verifySecret(secret, secretPhc ?? ctx.unmatchablePhc)) || secretPhc === undefined) {
    throw invalidToken();
  }
  const record: StoredPatRecord = {
    tokenId,
    secretPhc,
    owner: "admin",
    isAdmin: true,
    roles: [],
    createdAt: now,
    lastUsedAt: now,
    expiresAt: null,
    revokedAt: null,
  };
  if (!(await ctx.store.insertIfNoActiveAdmin(record, now))) throw invalidToken();
  return record;
}
