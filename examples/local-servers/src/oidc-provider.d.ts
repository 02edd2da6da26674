// oidc-provider 9 ships no type declarations. What these servers use of it, declared here so the
// example depends on no package's tests; `local-servers.ts` references this file, so every program
// that imports the example (the other examples, test/demo) sees it too.
declare module "oidc-provider" {
  /** A grant handler's `ctx`: Koa's context with oidc-provider's `oidc` (typed loosely, as upstream documents it). */
  // biome-ignore lint/suspicious/noExplicitAny: an untyped third-party module
  export type GrantContext = any;
  /** A token model: built from its fields, saved to get its value, `expiration` in seconds. */
  interface TokenModel {
    save(): Promise<string>;
    readonly expiration: number;
  }
  type TokenModelClass = new (fields: Record<string, unknown>) => TokenModel;

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (
      request: import("node:http").IncomingMessage,
      response: import("node:http").ServerResponse,
    ) => void;
    registerGrantType(
      name: string,
      handler: (ctx: GrantContext) => Promise<void>,
      params?: readonly string[],
    ): void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    Grant: new (fields: {
      accountId: string;
      clientId: string;
    }) => {
      addOIDCScope(scope: string): void;
      save(): Promise<string>;
    };
    AccessToken: TokenModelClass;
    RefreshToken: TokenModelClass;
    ClientCredentials: TokenModelClass;
  }
  /** The OAuth errors a grant handler throws. */
  export const errors: { readonly InvalidGrant: new (description?: string) => Error };
}
