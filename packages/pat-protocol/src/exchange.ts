import * as z from "zod";

/**
 * Body of `POST /auth/token` (urlencoded or JSON). Every field is optional: the PAT may instead come
 * from HTTP Basic (password part) or `Authorization: Bearer <PAT>`. Unknown fields are ignored.
 */
export const tokenExchangeRequestSchema = z.object({
  /** Must be `client_credentials` when present (the server answers 400 otherwise). */
  grant_type: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  state: z.string().optional(),
});
/** Body of `POST /auth/token`. */
export type TokenExchangeRequest = z.input<typeof tokenExchangeRequestSchema>;

/** Response of `POST /auth/token`: a JWT for the admin routes and for APIs that verify it. */
export const tokenExchangeResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string(),
  expires_in: z.number().positive(),
  state: z.string().optional(),
});
/** Response of `POST /auth/token`. */
export type TokenExchangeResponse = z.output<typeof tokenExchangeResponseSchema>;

/** The claims of a JWT issued by the exchange. */
export const patJwtClaimsSchema = z.object({
  sub: z.string(),
  owner: z.string(),
  admin: z.boolean(),
  roles: z.array(z.string()).default([]),
  iss: z.string(),
  iat: z.number(),
  exp: z.number(),
  jti: z.string().optional(),
  /**
   * The secret version: which stored secret the token was exchanged with (tokenkeep's pat-server; a
   * digest that says nothing about the secret). Absent from JWTs of other or older servers.
   */
  sv: z.string().optional(),
});
/** The claims of a JWT issued by the exchange. */
export type PatJwtClaims = z.output<typeof patJwtClaimsSchema>;
