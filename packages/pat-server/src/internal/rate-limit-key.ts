/**
 * The rate limit key of a client address. An IPv6 client usually holds a whole /64 (one customer
 * prefix), so it is keyed by that prefix: counting single addresses would hand it 2^64 buckets. An
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports) is keyed as the
 * IPv4 address. Anything else (a host-specific identifier from `getClientAddress`) is used as given.
 */
export function rateLimitKey(address: string): string {
  const bare = address
    .trim()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/%.*$/, "");
  if (!bare.includes(":")) return bare;
  const hextets = parseIpv6(bare);
  if (!hextets) return bare.toLowerCase();
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    return [hextets[6]! >> 8, hextets[6]! & 0xff, hextets[7]! >> 8, hextets[7]! & 0xff].join(".");
  }
  return `${hextets
    .slice(0, 4)
    .map((h) => h.toString(16))
    .join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (with `::` and a dotted IPv4 tail), or undefined. */
function parseIpv6(text: string): number[] | undefined {
  let rest = text;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (dotted) {
    const octets = dotted.slice(2).map(Number);
    if (octets.some((octet) => octet > 255)) return undefined;
    tail.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
    rest = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = rest.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]!);
  const end = halves.length === 2 ? groups(halves[1]!) : [];
  const written = head.length + end.length + tail.length;
  if (halves.length === 1 ? written !== 8 : written > 7) return undefined;
  const parse = (group: string) =>
    /^[0-9a-fA-F]{1,4}$/.test(group) ? Number.parseInt(group, 16) : Number.NaN;
  const values = [...head.map(parse), ...Array(8 - written).fill(0), ...end.map(parse), ...tail];
  return values.some(Number.isNaN) ? undefined : values;
}
