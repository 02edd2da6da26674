/**
 * @packageDocumentation
 * What needs Node itself: `serve` (the handler on `node:http`), `startPatServer` (a server on
 * 127.0.0.1 for tests, with an in-memory SQLite store by default) and `runCli` (the
 * `tokenkeep-pat-server` command).
 */

export { type CliIo, runCli } from "./run-cli";
export { type ServableHandler, type ServedHandler, type ServeOptions, serve } from "./serve";
export { type RunningPatServer, type StartPatServerOptions, startPatServer } from "./start-pat-server";
