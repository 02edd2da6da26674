// oidc-provider 9 ships no type declarations; the examples touch only this part of it.
declare module "oidc-provider" {
  interface GrantContext {
    oidc: { client: { clientId: string }; params: Record<string, string | undefined> };
    body?: unknown;
  }
  interface Model {
    save(): Promise<string>;
    readonly expiration: number;
  }
  export const errors: { InvalidGrant: new (description: string) => Error };
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (
      request: import("node:http").IncomingMessage,
      response: import("node:http").ServerResponse,
    ) => void;
    registerGrantType(
      name: string,
      handler: (ctx: GrantContext) => Promise<void>,
      parameters: readonly string[],
    ): void;
    on(event: string, listener: (...args: unknown[]) => void): void;
    Grant: new (options: {
      accountId: string;
      clientId: string;
    }) => {
      addOIDCScope(scope: string): void;
      save(): Promise<string>;
    };
    AccessToken: new (
      options: Record<string, unknown>,
    ) => Model;
    RefreshToken: new (
      options: Record<string, unknown>,
    ) => Model;
    ClientCredentials: new (
      options: Record<string, unknown>,
    ) => Model;
  }
}
