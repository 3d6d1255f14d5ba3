import jwt from "jsonwebtoken";
import { AccessTokenVerifier } from "../../lib/auth";
import { VerifiedTokens } from "../../lib/verified-tokens";

const secret = "unit-test-secret-unit-test-secret";
const alice = Object.freeze({ id: "alice", roles: [] as string[] });

describe("verified-token cache", () => {
  const now = 1_800_000_000_000;

  it("trusts a token until its exp plus the leeway, and never longer than a minute", () => {
    const tokens = new VerifiedTokens(5);
    tokens.remember("short", alice, now / 1000 + 10, now);
    tokens.remember("long", alice, now / 1000 + 3600, now);
    expect(tokens.get("short", now + 14_999)).toBe(alice);
    expect(tokens.get("short", now + 15_000)).toBeUndefined();
    expect(tokens.get("long", now + 59_999)).toBe(alice);
    expect(tokens.get("long", now + 60_000)).toBeUndefined();
  });

  it("does not keep a token that is already out of date, and knows only exact token text", () => {
    const tokens = new VerifiedTokens(0);
    tokens.remember("stale", alice, now / 1000 - 1, now);
    expect(tokens.get("stale", now)).toBeUndefined();
    tokens.remember("abc", alice, now / 1000 + 60, now);
    expect(tokens.get("abd", now)).toBeUndefined();
    expect(tokens.get("ab", now)).toBeUndefined();
  });

  it("serves a repeated token from the cache and still refuses a forged variant of it", async () => {
    const verifier = new AccessTokenVerifier({ secret });
    const token = jwt.sign({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 60 }, secret);
    const first = await verifier.verify(token);
    expect(first).toEqual({ id: "alice", roles: [] });
    // the very same frozen object: the signature was not checked again
    expect(await verifier.verify(token)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const [header, payload] = token.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ sub: "mallory", exp: Math.floor(Date.now() / 1000) + 60 })).toString("base64url");
    expect(await verifier.verify(`${header}.${forgedPayload}.${token.split(".")[2]}`)).toBeNull();
    expect(await verifier.verify(`${header}.${payload}.${"A".repeat(43)}`)).toBeNull();
  });

  it("does not cache a refusal: a token refused before its nbf passes once nbf is reached", async () => {
    const verifier = new AccessTokenVerifier({ secret });
    const nbfS = Math.floor(Date.now() / 1000) + 1;
    const early = jwt.sign({ sub: "alice", nbf: nbfS, exp: nbfS + 60 }, secret);
    expect(await verifier.verify(early)).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, nbfS * 1000 - Date.now() + 50));
    expect(await verifier.verify(early)).toEqual({ id: "alice", roles: [] });
  });
});
