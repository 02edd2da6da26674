// Size of what an application ships for the common case: a token manager, the client credentials
// grant and an authorizing fetch, bundled with every dependency, minified and gzipped.
// Run with `pnpm run bench` (after `pnpm run build`). Target: at most 10 KiB.
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const TARGET_BYTES = 10 * 1024;
const packageDir = fileURLToPath(new URL("..", import.meta.url));

const entry = `
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";

const manager = createTokenManager({
  creator: clientCredentialsGrant({
    issuer: "https://auth.example.com",
    clientId: "service",
    clientSecret: globalThis.CLIENT_SECRET,
  }),
});
export const authFetch = createAuthFetch(manager, { origins: ["https://api.example.com"] });
`;

// The same without the grant (a hand-written creator), to show what @tokenkeep/grants itself adds.
const coreOnlyEntry = `
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";

const manager = createTokenManager({ creator: async () => globalThis.TOKEN_ANSWER });
export const authFetch = createAuthFetch(manager, { origins: ["https://api.example.com"] });
`;

async function bundle(contents: string) {
  const result = await build({
    stdin: { contents, resolveDir: packageDir, loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2023",
    write: false,
    metafile: true,
    logLevel: "error",
  });
  const code = result.outputFiles[0]!.contents;
  return { result, code, gzipped: gzipSync(code, { level: 9 }).length };
}

// The same client authenticating with private_key_jwt: what the client-assertion entry (and jose) adds.
const privateKeyJwtEntry = `
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";
import { privateKeyJwt } from "@tokenkeep/grants/client-assertion";

const manager = createTokenManager({
  creator: clientCredentialsGrant({
    issuer: "https://auth.example.com",
    clientId: "service",
    clientAuthentication: privateKeyJwt({ key: globalThis.PRIVATE_JWK }),
  }),
});
export const authFetch = createAuthFetch(manager, { origins: ["https://api.example.com"] });
`;

// The same Bearer client made sender-constrained: what the dpop entry (and jose) adds.
const dpopEntry = `
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";
import { createDPoP } from "@tokenkeep/grants/dpop";

const dpop = createDPoP();
const manager = createTokenManager({
  creator: clientCredentialsGrant({
    issuer: "https://auth.example.com",
    clientId: "service",
    clientSecret: globalThis.CLIENT_SECRET,
    fetch: dpop.fetch,
  }),
});
export const authFetch = createAuthFetch(manager, { origins: ["https://api.example.com"], fetch: dpop.fetch });
`;

const { result, code, gzipped } = await bundle(entry);
const coreOnly = await bundle(coreOnlyEntry);

const byPackage = new Map<string, number>();
for (const [path, input] of Object.entries(Object.values(result.metafile.outputs)[0]!.inputs)) {
  const inModules = path.split("node_modules/").at(-1)!;
  const name =
    path.includes("node_modules/") && inModules !== path
      ? inModules
          .split("/")
          .slice(0, inModules.startsWith("@") ? 2 : 1)
          .join("/")
      : path.includes("core/dist")
        ? "@tokenkeep/core"
        : path.includes("dist/")
          ? "@tokenkeep/grants"
          : "(entry)";
  byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
console.log("bundle: createTokenManager + clientCredentialsGrant + createAuthFetch, all dependencies");
for (const [name, bytes] of [...byPackage].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${name.padEnd(20)} ${kib(bytes).padStart(10)} minified`);
}
console.log(`  minified: ${kib(code.length)}`);
console.log(
  `  minified + gzipped: ${kib(gzipped)} (${gzipped} bytes; target <= ${kib(TARGET_BYTES)}) ${gzipped <= TARGET_BYTES ? "OK" : "OVER"}`,
);
console.log(
  `  of which core alone (no grant): ${kib(coreOnly.gzipped)}; the grant adds ${kib(gzipped - coreOnly.gzipped)}`,
);

const withAssertion = await bundle(privateKeyJwtEntry);
console.log(
  `private_key_jwt instead of a shared secret (@tokenkeep/grants/client-assertion + jose): ${kib(withAssertion.gzipped)} minified + gzipped, ${kib(withAssertion.gzipped - gzipped)} more`,
);
const withDpop = await bundle(dpopEntry);
console.log(
  `DPoP (@tokenkeep/grants/dpop + jose): ${kib(withDpop.gzipped)} minified + gzipped, ${kib(withDpop.gzipped - gzipped)} more`,
);
for (const [name, contents] of [
  [
    "@tokenkeep/grants/client-assertion alone, with jose",
    'export * from "@tokenkeep/grants/client-assertion";',
  ],
  ["@tokenkeep/grants/dpop alone, with jose", 'export * from "@tokenkeep/grants/dpop";'],
  // Token introspection (RFC 7662) has its own entry, so the client-credentials bundle above does not grow.
  [
    "@tokenkeep/grants/introspection alone, with what it uses of core",
    'export * from "@tokenkeep/grants/introspection";',
  ],
] as const) {
  console.log(`${name}: ${kib((await bundle(contents)).gzipped)} minified + gzipped`);
}
