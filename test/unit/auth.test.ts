import jwt from "jsonwebtoken";
import { bearerToken, hasRole, signAccessToken, verifyAccessToken } from "../../lib/auth";

const secret = "unit-test-secret";

describe("access tokens", () => {
  it("round-trips the user id as the subject", async () => {
    expect(await verifyAccessToken(signAccessToken("alice_01", secret), secret)).toEqual({ id: "alice_01", roles: [] });
  });

  it("rejects another secret, expiry, other algorithms and invalid subjects", async () => {
    expect(await verifyAccessToken(signAccessToken("alice", "other"), secret)).toBeNull();
    // Past the clock-skew leeway (AUTH_JWT_CLOCK_TOLERANCE_S, 5 s by default).
    expect(await verifyAccessToken(signAccessToken("alice", secret, -60), secret)).toBeNull();
    const none = jwt.sign({ sub: "alice" }, "", { algorithm: "none" });
    expect(await verifyAccessToken(none, secret)).toBeNull();
    const hs512 = jwt.sign({ sub: "alice" }, secret, { algorithm: "HS512" });
    expect(await verifyAccessToken(hs512, secret)).toBeNull();
    expect(await verifyAccessToken(jwt.sign({ sub: "has space" }, secret, { expiresIn: 60 }), secret)).toBeNull();
    expect(await verifyAccessToken(jwt.sign({ sub: "x".repeat(65) }, secret, { expiresIn: 60 }), secret)).toBeNull();
    expect(await verifyAccessToken(jwt.sign({ foo: 1 }, secret, { expiresIn: 60 }), secret)).toBeNull();
  });

  it("carries the roles claim of the token, and only that", async () => {
    const admin = await verifyAccessToken(signAccessToken("ops_1", secret, 60, ["admin"]), secret);
    expect(admin).toEqual({ id: "ops_1", roles: ["admin"] });
    expect(hasRole(admin!, "admin")).toBe(true);
    expect(hasRole((await verifyAccessToken(signAccessToken("alice", secret), secret))!, "admin")).toBe(false);
    expect(hasRole(undefined, "admin")).toBe(false);
    // A malformed claim grants nothing; a string is not a list of roles.
    expect(await verifyAccessToken(jwt.sign({ sub: "eve", roles: "admin" }, secret, { expiresIn: 60 }), secret)).toEqual({ id: "eve", roles: [] });
    expect(await verifyAccessToken(jwt.sign({ sub: "eve", roles: [1, "admin"] }, secret, { expiresIn: 60 }), secret)).toEqual({ id: "eve", roles: ["admin"] });
    // Roles signed with another secret never count.
    expect(await verifyAccessToken(signAccessToken("eve", "other", 60, ["admin"]), secret)).toBeNull();
  });

  it("parses only well-formed Bearer headers", () => {
    expect(bearerToken("Bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(bearerToken("bearer abc")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeNull();
    expect(bearerToken("Bearer")).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});
