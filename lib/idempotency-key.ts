import { validationError } from "./errors";

/** SPEC §3: an Idempotency-Key is 8–128 characters of [A-Za-z0-9_-]. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;

export function isValidIdempotencyKey(value: unknown): value is string {
  return typeof value === "string" && IDEMPOTENCY_KEY_PATTERN.test(value);
}

/**
 * The request's Idempotency-Key (from ctx.meta.idempotencyKey), or undefined when it is optional
 * and absent. A malformed key, or a missing required one, is a 422 on the `Idempotency-Key` field:
 * silently ignoring a bad key would turn a safe retry into a second charge.
 */
export function readIdempotencyKey(raw: unknown, required: false): string | undefined;
export function readIdempotencyKey(raw: unknown, required: true): string;
export function readIdempotencyKey(raw: unknown, required: boolean): string | undefined {
  if (raw === undefined || raw === null) {
    if (!required) return undefined;
    throw validationError("Idempotency-Key", "The 'Idempotency-Key' header is required.");
  }
  if (!isValidIdempotencyKey(raw)) {
    throw validationError("Idempotency-Key", "The 'Idempotency-Key' header must be 8-128 characters of [A-Za-z0-9_-].", raw);
  }
  return raw;
}
