/**
 * The error vocabulary of the HTTP API (SPEC §3). Every domain error is a MoleculerClientError
 * whose `type` is one of these stable words; moleculer-web turns it into
 * `{ name, message, code, type, data }` with `code` as the HTTP status.
 */
import { Errors } from "moleculer";

export const ErrorTypes = {
  INVALID_BODY: 400,
  UNAUTHORIZED: 401,
  QUEUE_TOKEN_INVALID: 401,
  INSUFFICIENT_POINTS: 402,
  QUEUE_NOT_ACTIVE: 403,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONCERT_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  SEAT_NOT_FOUND: 404,
  RESERVATION_NOT_FOUND: 404,
  PAYMENT_NOT_FOUND: 404,
  SEAT_UNAVAILABLE: 409,
  RESERVATION_NOT_HELD: 409,
  RESERVATION_NOT_CONFIRMED: 409,
  QUEUE_NOT_OPEN: 409,
  HOLD_LIMIT_REACHED: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  REQUEST_TIMEOUT: 408,
  RESERVATION_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_ERROR: 422,
  INVALID_JSON: 422,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorType = keyof typeof ErrorTypes;

export class DomainError extends Errors.MoleculerClientError {
  constructor(type: ErrorType, message: string, data?: unknown) {
    super(message, ErrorTypes[type], type, data);
    this.name = "DomainError";
  }
}

export function domainError(type: ErrorType, message: string, data?: unknown): DomainError {
  return new DomainError(type, message, data);
}

/** A 422 shaped like fastest-validator's failures, for checks the schema cannot express. */
export function validationError(field: string, message: string, actual?: unknown): Errors.ValidationError {
  return new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
    { type: "custom", field, message, actual },
  ]);
}
