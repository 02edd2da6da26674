const addresses = new WeakMap<Request, string>();

/** Remembers the socket address a `Request` came from (set by `serve`). */
export function setSocketAddress(request: Request, address: string): void {
  addresses.set(request, address);
}

/** The socket address `serve` saw for this `Request`, if it came through `serve`. */
export function getSocketAddress(request: Request): string | undefined {
  return addresses.get(request);
}
