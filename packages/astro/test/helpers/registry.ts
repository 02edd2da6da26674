/**
 * A loopback npm registry for `astro add` tests: it serves the packed workspace packages (which are
 * not published) and forwards every other request to the public registry, so a package manager and
 * `astro add` pointed at it install our tarballs exactly as they would install published ones.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";

const run = promisify(execFile);

/** The registry everything but our packages comes from. */
export const PUBLIC_REGISTRY = "https://registry.npmjs.org";

/** A packed workspace package. */
interface Packed {
  readonly manifest: Record<string, unknown> & { name: string; version: string };
  readonly file: string;
  readonly tarball: Buffer;
}

/** A running loopback registry. */
export interface LocalRegistry {
  /** `http://127.0.0.1:<port>`, for `npm_config_registry`. */
  readonly url: string;
  /** The paths of the requests it answered from our packages (not forwarded). */
  readonly served: readonly string[];
  close(): Promise<void>;
}

/** `package/package.json` of a packed tarball (a gzipped ustar archive). */
export function manifestOf(tarball: Buffer): Packed["manifest"] {
  const tar = gunzipSync(tarball);
  const field = (start: number, length: number) =>
    tar.toString("utf8", start, start + length).replace(/\0[\s\S]*$/, "");
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const name = field(offset, 100);
    if (name === "") break;
    const prefix = field(offset + 345, 155);
    const size = Number.parseInt(field(offset + 124, 12).trim() || "0", 8);
    if ((prefix === "" ? name : `${prefix}/${name}`) === "package/package.json") {
      return JSON.parse(tar.toString("utf8", offset + 512, offset + 512 + size));
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error("package/package.json not found in the tarball");
}

/** Packs workspace packages (`pnpm pack`: `workspace:` ranges become versions) into `destination`. */
export async function packWorkspacePackages(names: readonly string[], destination: string): Promise<void> {
  const packagesDir = fileURLToPath(new URL("../../../", import.meta.url));
  await Promise.all(
    names.map((name) =>
      run("pnpm", ["pack", "--pack-destination", destination], { cwd: join(packagesDir, name) }),
    ),
  );
}

async function loadPacked(directory: string): Promise<Map<string, Packed>> {
  const packed = new Map<string, Packed>();
  for (const file of (await readdir(directory)).filter((name) => name.endsWith(".tgz"))) {
    const tarball = await readFile(join(directory, file));
    const manifest = manifestOf(tarball);
    packed.set(manifest.name, { manifest, file, tarball });
  }
  return packed;
}

function packument(entry: Packed, base: string) {
  const { manifest, file, tarball } = entry;
  const version = {
    ...manifest,
    _id: `${manifest.name}@${manifest.version}`,
    dist: {
      tarball: `${base}/${manifest.name}/-/${file}`,
      shasum: createHash("sha1").update(tarball).digest("hex"),
      integrity: `sha512-${createHash("sha512").update(tarball).digest("base64")}`,
    },
  };
  return {
    name: manifest.name,
    "dist-tags": { latest: manifest.version },
    versions: { [manifest.version]: version },
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/**
 * Starts the registry on 127.0.0.1 (a free port), serving every `.tgz` in `tarballDirectory` as the
 * only version of its package (packument at `/<name>`, `/<name>/latest` for `astro add`, tarball at
 * `/<name>/-/<file>`) and forwarding anything else to {@link PUBLIC_REGISTRY}.
 */
export async function startLocalRegistry(tarballDirectory: string): Promise<LocalRegistry> {
  const packed = await loadPacked(tarballDirectory);
  const served: string[] = [];
  let base = "";

  const forward = async (request: IncomingMessage, response: ServerResponse) => {
    const upstream = await fetch(`${PUBLIC_REGISTRY}${request.url}`, {
      method: request.method === "HEAD" ? "HEAD" : "GET",
      headers: { accept: request.headers.accept ?? "application/json" },
    });
    const headers: Record<string, string> = {};
    const type = upstream.headers.get("content-type");
    if (type !== null) headers["content-type"] = type;
    response.writeHead(upstream.status, headers).end(Buffer.from(await upstream.arrayBuffer()));
  };

  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", base).pathname);
    for (const [name, entry] of packed) {
      if (
        path === `/${name}` ||
        path === `/${name}/latest` ||
        path === `/${name}/${entry.manifest.version}`
      ) {
        served.push(path);
        const document = packument(entry, base);
        return json(
          response,
          200,
          path === `/${name}` ? document : document.versions[entry.manifest.version],
        );
      }
      if (path === `/${name}/-/${entry.file}`) {
        served.push(path);
        response.writeHead(200, { "content-type": "application/octet-stream" }).end(entry.tarball);
        return;
      }
    }
    forward(request, response).catch((error: unknown) => {
      if (!response.headersSent) json(response, 502, { error: String(error) });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: base,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Whether the public registry answers within `timeoutMs`. */
export async function publicRegistryReachable(timeoutMs = 5_000): Promise<boolean> {
  try {
    const response = await fetch(`${PUBLIC_REGISTRY}/-/ping`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
