import { OAuthError, TokenkeepError } from "@tokenkeep/core";
import { describe, expect, it } from "vitest";
import { classifyRotationError, IN_DOUBT, SUPERSEDED } from "./rotation.js";

describe("classifyRotationError", () => {
  it("in doubt for good (no way to ask the upstream) is late; in doubt until checked is transient", () => {
    const final = new TokenkeepError(IN_DOUBT, "in doubt");
    const checkLater = new TokenkeepError(IN_DOUBT, "in doubt", { transient: true, retryAfterMs: 1_000 });
    expect(classifyRotationError(final).kind).toBe("late");
    expect(classifyRotationError(checkLater).kind).toBe("transient");
  });

  it("invalid_grant (also the one recorded after a check said the token is dead) ends the session", () => {
    const dead = new OAuthError({
      error: "invalid_grant",
      status: 400,
      errorDescription: "no longer accepted",
    });
    expect(classifyRotationError(dead).kind).toBe("rejected");
    expect(classifyRotationError(new TokenkeepError(SUPERSEDED, "redeemed")).kind).toBe("late");
    expect(classifyRotationError(new OAuthError({ error: "server_error", status: 502 })).kind).toBe(
      "transient",
    );
  });
});
