// The local servers shared by the examples and `npm run demo` (one copy, imported as TypeScript).
export {
  type LocalClient,
  type LocalServers,
  type LocalServersOptions,
  startLocalServers,
  USERS,
} from "./local-servers.ts";
