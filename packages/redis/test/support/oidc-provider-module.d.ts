// oidc-provider 9 ships no type declarations; these tests use a small part of it.
declare module "oidc-provider" {
  // biome-ignore lint/suspicious/noExplicitAny: an untyped third-party module
  type Untyped = any;
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (
      request: import("node:http").IncomingMessage,
      response: import("node:http").ServerResponse,
    ) => void;
    registerGrantType(
      name: string,
      handler: (ctx: Untyped) => Promise<void>,
      params?: readonly string[],
    ): void;
    on(event: string, listener: (...args: Untyped[]) => void): this;
    /** Koa's `app.use`: a middleware around every request the provider serves. */
    use(middleware: (ctx: Untyped, next: () => Promise<void>) => Promise<void>): this;
    Grant: Untyped;
    AccessToken: Untyped;
    RefreshToken: Untyped;
  }
  export const errors: Record<string, new (description?: string) => Error>;
}
