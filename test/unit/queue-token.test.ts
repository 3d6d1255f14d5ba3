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

  it("expires QUEUE_TOKEN_TTL_S after the entry, and keeps one token per entry", () => {
    const enteredAt = Date.UTC(2026, 0, 1, 12, 0, 0);
    const nonce = newNonce(enteredAt);
    const entry = { ...claims, nonce };
    const token = signQueueToken(entry, SECRET, 3600, enteredAt);
    // Entering again later signs the same token: its expiry comes from the entry, not the clock.
    expect(signQueueToken(entry, SECRET, 3600, enteredAt + 1_800_000)).toBe(token);
    expect(verifyQueueToken(token, SECRET, enteredAt + 3_599_000)).toEqual(entry);
    expect(verifyQueueToken(token, SECRET, enteredAt + 3_600_000)).toBeNull();
    // A token without an expiry (the old format) is refused.
    expect(verifyQueueToken(signRaw(encode({ u: claims.userId, c: claims.concertId, n: nonce }), SECRET), SECRET)).toBeNull();
  });

  it("verifies with every key of a rotation list and signs with the first", () => {
    const newKey = "queue-key-new";
    const oldToken = signQueueToken(claims, SECRET);
    const rotated = `${newKey},${SECRET}`;
    expect(verifyQueueToken(oldToken, rotated)).toEqual(claims);
    const fresh = signQueueToken(claims, rotated);
    expect(verifyQueueToken(fresh, newKey)).toEqual(claims);
    expect(verifyQueueToken(fresh, SECRET)).toBeNull();
    // Once the old key is dropped, its tokens stop working.
    expect(verifyQueueToken(oldToken, newKey)).toBeNull();
  });

  it("makes unguessable nonces", () => {
    const nonces = new Set(Array.from({ length: 1000 }, () => newNonce()));
    expect(nonces.size).toBe(1000);
    // 7 chars of issue time (base36 seconds), then 16 random ones.
    for (const nonce of nonces) expect(nonce).toMatch(/^[0-9a-z]{7}[A-Za-z0-9_-]{16}$/);
  });
});
