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
    const { body, contentType } = encodeBody(params, "form");
    expect(contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(body).toBe("grant_type=client_credentials&scope=a+b&resource=r1&resource=r2");
  });

  it("encodes JSON, keeping arrays", () => {
    const { body, contentType } = encodeBody(params, "json");
    expect(contentType).toBe("application/json");
    expect(JSON.parse(body)).toEqual({
      grant_type: "client_credentials",
      scope: "a b",
      resource: ["r1", "r2"],
    });
  });
});
