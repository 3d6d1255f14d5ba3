import { createHmac } from "node:crypto";
import { newNonce, signQueueToken, verifyQueueToken } from "../../modules/queue/queue-token";

const SECRET = "unit-test-queue-secret";
const claims = { userId: "alice_01", concertId: 42, nonce: "n0nce-AbC" };

function encode(body: unknown): string {
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

function signRaw(payload: string, secret: string): string {
  return `${payload}.${createHmac("sha256", secret).update(payload).digest("base64url")}`;
}

describe("queue token", () => {
  it("round-trips the user, concert and nonce it binds", () => {
    expect(verifyQueueToken(signQueueToken(claims, SECRET), SECRET)).toEqual(claims);
  });

  it("is deterministic for the same entry (a repeat entry gets the same token)", () => {
    expect(signQueueToken(claims, SECRET)).toBe(signQueueToken({ ...claims }, SECRET));
    expect(signQueueToken(claims, SECRET)).not.toBe(signQueueToken({ ...claims, nonce: "other" }, SECRET));
  });

  it("refuses a token signed with another secret", () => {
    expect(verifyQueueToken(signQueueToken(claims, "not-the-secret"), SECRET)).toBeNull();
  });

  it("refuses a payload changed after signing (another concert or user)", () => {
    const [, signature] = signQueueToken(claims, SECRET).split(".");
    for (const body of [
      { u: claims.userId, c: 43, n: claims.nonce },
      { u: "mallory", c: claims.concertId, n: claims.nonce },
      { u: claims.userId, c: claims.concertId, n: "guessed" },
    ]) {
      expect(verifyQueueToken(`${encode(body)}.${signature}`, SECRET)).toBeNull();
    }
  });

  it("refuses a changed signature, including one of the same length", () => {
    const token = signQueueToken(claims, SECRET);
    const last = token.at(-1) === "A" ? "B" : "A";
    expect(verifyQueueToken(token.slice(0, -1) + last, SECRET)).toBeNull();
    expect(verifyQueueToken(token.slice(0, -2), SECRET)).toBeNull();
  });

  it.each([
    ["not a string", 12345],
    ["undefined", undefined],
    ["empty", ""],
    ["no signature part", "abc"],
    ["three parts", "a.b.c"],
    ["too long", `${"a".repeat(600)}.b`],
  ])("refuses a malformed token: %s", (_label, token) => {
    expect(verifyQueueToken(token, SECRET)).toBeNull();
  });

  it("refuses a correctly signed payload with the wrong shape", () => {
    for (const body of [{ u: 1, c: 1, n: "x" }, { u: "a", c: "1", n: "x" }, { u: "a", c: 1.5, n: "x" }, { u: "a", c: 1 }]) {
      expect(verifyQueueToken(signRaw(encode(body), SECRET), SECRET)).toBeNull();
    }
    expect(verifyQueueToken(signRaw(Buffer.from("{not json").toString("base64url"), SECRET), SECRET)).toBeNull();
  });

  it("makes unguessable nonces", () => {
    const nonces = new Set(Array.from({ length: 1000 }, () => newNonce()));
    expect(nonces.size).toBe(1000);
    for (const nonce of nonces) expect(nonce).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });
});
