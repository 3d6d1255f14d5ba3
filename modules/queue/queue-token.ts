import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** What a queue token binds: the user, the concert and the nonce of that entry. */
export interface QueueTokenClaims {
  userId: string;
  concertId: number;
  nonce: string;
}

function mac(payload: string, secret: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}

export function newNonce(): string {
  return randomBytes(12).toString("base64url");
}

/** `<base64url(json)>.<base64url(hmac-sha256)>`, signed with QUEUE_TOKEN_SECRET. */
export function signQueueToken(claims: QueueTokenClaims, secret: string): string {
  const payload = Buffer.from(JSON.stringify({ u: claims.userId, c: claims.concertId, n: claims.nonce })).toString(
    "base64url",
  );
  return `${payload}.${mac(payload, secret)}`;
}

/** The claims of a well-formed token with a valid signature, or null. */
export function verifyQueueToken(token: unknown, secret: string): QueueTokenClaims | null {
  if (typeof token !== "string" || token.length > 512) return null;
  const parts = token.split(".");
  if (parts.length !== 2) return null;
  const [payload, signature] = parts;
  const expected = Buffer.from(mac(payload, secret));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { u?: unknown; c?: unknown; n?: unknown };
    if (typeof body.u !== "string" || !Number.isInteger(body.c) || typeof body.n !== "string") return null;
    return { userId: body.u, concertId: body.c as number, nonce: body.n };
  } catch {
    return null;
  }
}
