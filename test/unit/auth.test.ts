import jwt from "jsonwebtoken";
import { bearerToken, signAccessToken, verifyAccessToken } from "../../lib/auth";

const secret = "unit-test-secret";

describe("access tokens", () => {
  it("round-trips the user id as the subject", () => {
    expect(verifyAccessToken(signAccessToken("alice_01", secret), secret)).toEqual({ id: "alice_01" });
  });

  it("rejects another secret, expiry, other algorithms and invalid subjects", () => {
    expect(verifyAccessToken(signAccessToken("alice", "other"), secret)).toBeNull();
    expect(verifyAccessToken(signAccessToken("alice", secret, -1), secret)).toBeNull();
    const none = jwt.sign({ sub: "alice" }, "", { algorithm: "none" });
    expect(verifyAccessToken(none, secret)).toBeNull();
    const hs512 = jwt.sign({ sub: "alice" }, secret, { algorithm: "HS512" });
    expect(verifyAccessToken(hs512, secret)).toBeNull();
    expect(verifyAccessToken(jwt.sign({ sub: "has space" }, secret), secret)).toBeNull();
    expect(verifyAccessToken(jwt.sign({ sub: "x".repeat(65) }, secret), secret)).toBeNull();
    expect(verifyAccessToken(jwt.sign({ foo: 1 }, secret), secret)).toBeNull();
  });

  it("parses only well-formed Bearer headers", () => {
    expect(bearerToken("Bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(bearerToken("bearer abc")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeNull();
    expect(bearerToken("Bearer")).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});
