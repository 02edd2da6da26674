/**
 * The orchestrator's HTTP server on 127.0.0.1, port 0. One origin serves everything a runtime needs
 * besides the authorization server, so the browser page needs no CORS for it:
 * - `GET /config/<runtime>`: the scenario config, with a refresh token minted for that runtime;
 * - `POST /results/<runtime>`: where each runtime reports;
 * - `GET /page?runtime=<row>` and `GET /bundles/browser.js`: the browser page and its bundle;
 * - `/rs/*`: the resource server (`echo` answers 401 for `stale-*` tokens, `protected` accepts live
 *   client-credentials tokens of the authorization server, `slow` answers after two seconds, `dpop`
 *   accepts a live DPoP-bound token with a valid proof carrying its nonce).
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { base64url, calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from "jose";
import type { MatrixConfig } from "../src/harness.ts";
import type { RuntimeReport } from "../src/run.ts";
import {
  type AuthorizationServer,
  CLIENT_ID,
  CLIENT_SECRET,
  CLIENT_SECRET_JWT_CLIENT_ID,
  CLIENT_SECRET_JWT_SECRET,
  PRIVATE_KEY_JWT_CLIENT_ID,
  PRIVATE_KEY_JWT_KEY,
} from "./authorization-server.ts";

export interface Orchestrator {
  origin: string;
  /** Resolves with the report `runtime` posts (the promise is created on first use). */
  report(runtime: string): Promise<RuntimeReport>;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  response.writeHead(status, {
    "content-type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json",
    "cache-control": "no-store",
    ...headers,
  });
  response.end(text);
}

function bearer(request: IncomingMessage): string | undefined {
  const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? "");
  return match?.[1];
}

/** Starts the orchestrator's server. `browserBundle` is the path of the browser entry's bundle. */
export async function startOrchestrator(
  authorizationServer: AuthorizationServer,
  browserBundle: string,
): Promise<Orchestrator> {
  const waiting = new Map<string, { promise: Promise<RuntimeReport>; resolve: (r: RuntimeReport) => void }>();
  const slot = (runtime: string) => {
    let entry = waiting.get(runtime);
    if (!entry) {
      let resolve!: (report: RuntimeReport) => void;
      const promise = new Promise<RuntimeReport>((done) => {
        resolve = done;
      });
      entry = { promise, resolve };
      waiting.set(runtime, entry);
    }
    return entry;
  };

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", origin);
    const [, first, second] = url.pathname.split("/");
    if (request.method === "GET" && first === "config" && second) {
      const config: MatrixConfig = {
        runtime: second,
        issuer: authorizationServer.issuer,
        tokenUrl: authorizationServer.tokenUrl,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        refreshToken: await authorizationServer.mintRefreshToken(),
        introspectionRefreshToken: await authorizationServer.mintRefreshToken(),
        origin,
        privateKeyJwt: { clientId: PRIVATE_KEY_JWT_CLIENT_ID, privateJwk: PRIVATE_KEY_JWT_KEY },
        clientSecretJwt: { clientId: CLIENT_SECRET_JWT_CLIENT_ID, secret: CLIENT_SECRET_JWT_SECRET },
      };
      return send(response, 200, config);
    }
    if (request.method === "POST" && first === "results" && second) {
      slot(second).resolve(JSON.parse(await readBody(request)) as RuntimeReport);
      return send(response, 204, "");
    }
    if (request.method === "GET" && first === "page") {
      const html = `<!doctype html><meta charset="utf-8"><title>running</title>
<script type="module" src="/bundles/browser.js${url.search}"></script>`;
      return send(response, 200, html, { "content-type": "text/html; charset=utf-8" });
    }
    if (request.method === "GET" && first === "bundles" && second === "browser.js") {
      return send(response, 200, await readFile(browserBundle, "utf8"), {
        "content-type": "text/javascript; charset=utf-8",
      });
    }
    if (first === "rs") return resource(second, request, response);
    return send(response, 404, { error: "not_found" });
  }

  async function resource(route: string | undefined, request: IncomingMessage, response: ServerResponse) {
    const token = bearer(request);
    const challenge = { "www-authenticate": 'Bearer error="invalid_token"' };
    if (route === "echo") {
      const body = await readBody(request);
      if (!token || token.startsWith("stale-"))
        return send(response, 401, { error: "invalid_token" }, challenge);
      return send(response, 200, { token, method: request.method, body });
    }
    if (route === "protected") {
      if (!token || !(await authorizationServer.isClientCredentialsToken(token))) {
        return send(response, 401, { error: "invalid_token" }, challenge);
      }
      return send(response, 200, { ok: true });
    }
    if (route === "dpop") return dpopResource(request, response);
    if (route === "slow") {
      const timer = setTimeout(() => send(response, 200, "late"), 2_000);
      request.on("close", () => clearTimeout(timer));
      response.on("close", () => clearTimeout(timer));
      return;
    }
    return send(response, 404, { error: "not_found" });
  }

  const seenJtis = new Set<unknown>();
  const RS_NONCE = "matrix-rs-nonce";
  /**
   * RFC 9449 section 7: `Authorization: DPoP <token>` bound (`jkt`) to the key of a valid proof for
   * this request (htm, htu without query, ath, a new jti) that carries this server's nonce.
   */
  async function dpopResource(request: IncomingMessage, response: ServerResponse) {
    const deny = (error: string, headers: Record<string, string> = {}) =>
      send(response, 401, { error }, { "www-authenticate": `DPoP error="${error}"`, ...headers });
    const token = /^DPoP (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    const jkt = token === undefined ? undefined : await authorizationServer.boundThumbprint(token);
    if (token === undefined || jkt === undefined) return deny("invalid_token");
    const proof = await jwtVerify(String(request.headers.dpop), EmbeddedJWK, { typ: "dpop+jwt" }).catch(
      () => undefined,
    );
    if (!proof) return deny("invalid_dpop_proof");
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
    const valid =
      proof.payload.htm === request.method &&
      proof.payload.htu === `${origin}/rs/dpop` &&
      proof.payload.ath === base64url.encode(new Uint8Array(digest)) &&
      !seenJtis.has(proof.payload.jti) &&
      (await calculateJwkThumbprint(proof.protectedHeader.jwk!)) === jkt;
    seenJtis.add(proof.payload.jti);
    if (!valid) return deny("invalid_dpop_proof");
    if (proof.payload.nonce !== RS_NONCE) return deny("use_dpop_nonce", { "dpop-nonce": RS_NONCE });
    return send(response, 200, { ok: true });
  }

  server.on("request", (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, { error: "server_error", detail: String(error) });
    });
  });

  return {
    origin,
    report: (runtime) => slot(runtime).promise,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
