import { describe, expect, it } from "vitest";
import { encodeBody } from "./body-encoding.js";

describe("body encoding", () => {
  const params = {
    grant_type: "client_credentials",
    scope: "a b",
    resource: ["r1", "r2"],
    audience: undefined,
  };

  it("encodes a form, repeating array keys and dropping undefined", () => {
    const headers: Record<string, string> = {};
    const body = encodeBody(params, "form", headers);
    expect(headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(body).toBe("grant_type=client_credentials&scope=a+b&resource=r1&resource=r2");
  });

  it("encodes JSON, keeping arrays", () => {
    const headers: Record<string, string> = {};
    const body = encodeBody(params, "json", headers);
    expect(headers["content-type"]).toBe("application/json");
    expect(JSON.parse(body)).toEqual({
      grant_type: "client_credentials",
      scope: "a b",
      resource: ["r1", "r2"],
    });
  });
});
