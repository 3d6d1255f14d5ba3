import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import jwt from "jsonwebtoken";
import { exportJWK } from "jose";
import { AccessTokenVerifier, signAccessToken } from "../../lib/auth";

const secret = "unit-test-secret-unit-test-secret";
const hs = new AccessTokenVerifier({ secret, clockToleranceS: 5 });
const nowS = () => Math.floor(Date.now() / 1000);

function pair(type: "rsa" | "ec" | "ed25519"): { publicKey: KeyObject; privateKey: KeyObject } {
  if (type === "rsa") return generateKeyPairSync("rsa", { modulusLength: 2048 });
  if (type === "ec") return generateKeyPairSync("ec", { namedCurve: "P-256" });
  return generateKeyPairSync("ed25519");
}

describe("access token verification", () => {
  it("requires exp, and allows only the configured clock-skew leeway past it", async () => {
    expect(await hs.verify(jwt.sign({ sub: "alice" }, secret))).toBeNull();
    expect(await hs.verify(jwt.sign({ sub: "alice", exp: nowS() - 2 }, secret))).toEqual({ id: "alice", roles: [] });
    expect(await hs.verify(jwt.sign({ sub: "alice", exp: nowS() - 30 }, secret))).toBeNull();
    expect(await hs.verify(jwt.sign({ sub: "alice", exp: nowS() + 60, nbf: nowS() + 60 }, secret))).toBeNull();
  });

  it("refuses alg none, HS256 tokens with no secret configured and unknown algorithms", async () => {
    const none = jwt.sign({ sub: "alice", exp: nowS() + 60 }, "", { algorithm: "none" });
    expect(await hs.verify(none)).toBeNull();
    expect(await hs.verify(`${none}AAAA`)).toBeNull();
    const { publicKey } = pair("ec");
    const asymmetricOnly = new AccessTokenVerifier({ secret: "", publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) as string });
    expect(await asymmetricOnly.verify(signAccessToken("alice", secret, 60, [], {}))).toBeNull();
    expect(() => new AccessTokenVerifier({ secret: "" })).toThrow(/no key/);
  });

  it("checks iss and aud only when configured", async () => {
    const strict = new AccessTokenVerifier({ secret, issuer: "https://idp.example", audience: "concert-api" });
    const good = signAccessToken("alice", secret, 60, [], { issuer: "https://idp.example", audience: "concert-api" });
    expect(await strict.verify(good)).toEqual({ id: "alice", roles: [] });
    expect(await strict.verify(signAccessToken("alice", secret, 60, [], { issuer: "https://evil.example", audience: "concert-api" }))).toBeNull();
    expect(await strict.verify(signAccessToken("alice", secret, 60, [], { issuer: "https://idp.example", audience: "other-api" }))).toBeNull();
    expect(await strict.verify(signAccessToken("alice", secret, 60, [], {}))).toBeNull();
    expect(await hs.verify(good)).toEqual({ id: "alice", roles: [] });
  });

  it.each([
    ["RS256", "rsa"],
    ["ES256", "ec"],
    ["EdDSA", "ed25519"],
  ] as const)("verifies %s tokens by an identity provider's public key (PEM)", async (alg, type) => {
    const { publicKey, privateKey } = pair(type);
    const pem = publicKey.export({ type: "spki", format: "pem" }) as string;
    const verifier = new AccessTokenVerifier({ secret, publicKeyPem: pem });
    const claims = { sub: "idp_user", roles: ["admin"], exp: nowS() + 60 };
    if (alg === "EdDSA") {
      // jsonwebtoken cannot sign EdDSA; jose can.
      const { SignJWT } = await import("jose");
      const token = await new SignJWT({ roles: ["admin"] }).setProtectedHeader({ alg }).setSubject("idp_user").setExpirationTime("1m").sign(privateKey);
      expect(await verifier.verify(token)).toEqual({ id: "idp_user", roles: ["admin"] });
    } else {
      expect(await verifier.verify(jwt.sign(claims, privateKey, { algorithm: alg }))).toEqual({ id: "idp_user", roles: ["admin"] });
    }
    // Another key pair's signature, and the classic confusion (HS256 keyed with the public key), fail.
    const other = pair(type === "ed25519" ? "ec" : type);
    expect(await verifier.verify(jwt.sign(claims, other.privateKey, { algorithm: type === "rsa" ? "RS256" : "ES256" }))).toBeNull();
    expect(await verifier.verify(jwt.sign(claims, pem, { algorithm: "HS256" }))).toBeNull();
    // HS256 with the shared secret still works next to the public key (development).
    expect(await verifier.verify(signAccessToken("dev_user", secret, 60, [], {}))).toEqual({ id: "dev_user", roles: [] });
  });

  describe("with a JWKS URL", () => {
    let server: Server;
    let url: string;
    let fetches = 0;
    const { publicKey, privateKey } = pair("rsa");

    beforeAll(async () => {
      const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
      server = createServer((_req, res) => {
        fetches++;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    it("verifies by the key named in kid and caches the key set", async () => {
      const verifier = new AccessTokenVerifier({ secret: "", jwksUrl: url });
      const token = jwt.sign({ sub: "jwks_user", exp: nowS() + 60 }, privateKey, { algorithm: "RS256", keyid: "k1" });
      expect(await verifier.verify(token)).toEqual({ id: "jwks_user", roles: [] });
      expect(await verifier.verify(token)).toEqual({ id: "jwks_user", roles: [] });
      expect(fetches).toBe(1);
      const forged = jwt.sign({ sub: "jwks_user", exp: nowS() + 60 }, pair("rsa").privateKey, { algorithm: "RS256", keyid: "k1" });
      expect(await verifier.verify(forged)).toBeNull();
    });
  });
});
