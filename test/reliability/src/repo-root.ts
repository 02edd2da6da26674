/**
 * The repository's top folder, without a trailing slash, for the tests that read the workspace's own
 * files (READMEs, manifests, turbo.json) or run its scripts (test/demo starts `scripts/demo.mjs`).
 * Imported by path from other test packages, like `secret-registry.ts`.
 */
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url)).replace(/\/$/, "");
