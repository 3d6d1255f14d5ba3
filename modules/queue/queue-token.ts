import { createHmac, randomFillSync, timingSafeEqual } from "node:crypto";
import { getConfig } from "../../lib/config";

/** What a queue token binds: the user, the concert and the nonce of that entry. */
export interface QueueTokenClaims {
  userId: string;
  concertId: number;
  nonce: string;
}

/** QUEUE_TOKEN_SECRET may list keys, "new,old": the first signs, each one verifies (rotation). */
export function queueTokenKeys(secret: string): string[] {
  const keys = secret.split(",").map((key) => key.trim()).filter(Boolean);
  return keys.length ? keys : [secret];
}

function mac(payload: string, key: string): string {
  return createHmac("sha256", key).update(payload).digest("base64url");
}

const TIME_CHARS = 7; // base36 seconds: enough until the year 4400

/**
 * 7 chars of issued-at seconds (base36), then 16 random chars (base64url): the entry's time travels
 * in its nonce, so the token of an entry (and its expiry) is the same every time the user enters
 * again (SPEC §3: same token and place).
 */
export function newNonce(nowMs = Date.now()): string {
  return Math.floor(nowMs / 1000).toString(36).padStart(TIME_CHARS, "0") + randomChars();
}

const NONCE_BYTES = 12;
// One CSPRNG call per 512 nonces: a call per entry (randomBytes(12)) was 7 % of a queue entry's CPU.
const pool = Buffer.alloc(NONCE_BYTES * 512);
let poolOffset = pool.length;

/** 16 base64url chars of fresh CSPRNG bytes (each pool byte is handed out once). */
function randomChars(): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const chars = pool.toString("base64url", poolOffset, poolOffset + NONCE_BYTES);
  poolOffset += NONCE_BYTES;
  return chars;
}

function issuedAtS(nonce: string): number | null {
  const match = /^([0-9a-z]{7})[A-Za-z0-9_-]{16}$/.exec(nonce);
  return match ? parseInt(match[1], 36) : null;
}

/** Expiry (epoch s) of the entry's token: issued-at + QUEUE_TOKEN_TTL_S; a nonce without a time starts at the next minute. */
function expiryS(nonce: string, ttlS: number, nowMs: number): number {
  return (issuedAtS(nonce) ?? Math.ceil(nowMs / 60_000) * 60) + ttlS;
}

/** `<base64url(json)>.<base64url(hmac-sha256)>`, signed with the first key of QUEUE_TOKEN_SECRET. */
export function signQueueToken(claims: QueueTokenClaims, secret: string, ttlS = getConfig().queueTokenTtlS, nowMs = Date.now()): string {
  const body = { u: claims.userId, c: claims.concertId, n: claims.nonce, e: expiryS(claims.nonce, ttlS, nowMs) };
  const payload = Buffer.from(JSON.stringify(body)).toString("base64url");
  return `${payload}.${mac(payload, queueTokenKeys(secret)[0])}`;
}

function signedByOneOf(payload: string, signature: string, keys: string[]): boolean {
  const given = Buffer.from(signature);
  let valid = false;
  // Every key is tried (no early exit), so timing does not tell which key matched.
  for (const key of keys) {
    const expected = Buffer.from(mac(payload, key));
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid;
}

/** The claims of a well-formed, unexpired token signed with any key of QUEUE_TOKEN_SECRET, or null. */
export function verifyQueueToken(token: unknown, secret: string, nowMs = Date.now()): QueueTokenClaims | null {
  if (typeof token !== "string" || token.length > 512) return null;
  const parts = token.split(".");
  if (parts.length !== 2) return null;
  const [payload, signature] = parts;
  if (!signedByOneOf(payload, signature, queueTokenKeys(secret))) return null;
  try {
    const body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { u?: unknown; c?: unknown; n?: unknown; e?: unknown };
    if (typeof body.u !== "string" || !Number.isInteger(body.c) || typeof body.n !== "string") return null;
    // Tokens without an expiry (issued before expiries existed) are refused like expired ones.
    if (typeof body.e !== "number" || body.e * 1000 <= nowMs) return null;
    return { userId: body.u, concertId: body.c as number, nonce: body.n };
  } catch {
    return null;
  }
}
