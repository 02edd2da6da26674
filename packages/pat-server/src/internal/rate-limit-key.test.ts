import { describe, expect, it } from "vitest";
import { rateLimitKey } from "./rate-limit-key";

describe("rateLimitKey", () => {
  it("keys IPv6 clients by their /64, however the address is written", () => {
    expect(rateLimitKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(rateLimitKey("2001:0DB8:0001:0002::1")).toBe("2001:db8:1:2::/64");
    expect(rateLimitKey("[2001:db8:1:2::ffff]")).toBe("2001:db8:1:2::/64");
    expect(rateLimitKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(rateLimitKey("::1")).toBe("0:0:0:0::/64");
    expect(rateLimitKey("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(rateLimitKey("2001:db8:1:3::1")).not.toBe(rateLimitKey("2001:db8:1:2::1"));
    expect(rateLimitKey("64:ff9b::192.0.2.1")).toBe("64:ff9b:0:0::/64");
  });

  it("keys an IPv4-mapped IPv6 address as the IPv4 address", () => {
    expect(rateLimitKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(rateLimitKey("::FFFF:c000:201")).toBe("192.0.2.1");
    expect(rateLimitKey("192.0.2.1")).toBe("192.0.2.1");
  });

  it("uses anything that is not an IPv6 address as given", () => {
    expect(rateLimitKey("client-42")).toBe("client-42");
    expect(rateLimitKey("1:2:3")).toBe("1:2:3");
    expect(rateLimitKey("1::2::3")).toBe("1::2::3");
    expect(rateLimitKey("::ffff:300.1.1.1")).toBe("::ffff:300.1.1.1");
  });
});
