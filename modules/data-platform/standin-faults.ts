/**
 * Fault injection of the data-platform stand-in (SPEC §4 `POST /_faults`), as pure functions.
 *
 * Body (every field optional; the body REPLACES the current faults, so `{}` clears them):
 *   failRate        0..1   share of POST /reservations answered 503 (nothing applied)
 *   delayMs         >= 0   wait before answering (and before applying) each POST /reservations
 *   rejectRate      0..1   share answered 422 (refused for good, nothing applied)
 *   rejectEventIds  uuid[] these eventIds are always answered 422
 *   failEventIds    uuid[] these eventIds are always answered 503 (the others go through)
 */
export interface Faults {
  failRate: number;
  delayMs: number;
  rejectRate: number;
  rejectEventIds: string[];
  failEventIds: string[];
}

export const NO_FAULTS: Faults = Object.freeze({ failRate: 0, delayMs: 0, rejectRate: 0, rejectEventIds: [], failEventIds: [] }) as Faults;

const MAX_DELAY_MS = 120_000;

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function rate(value: unknown, name: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new RangeError(`${name} must be a number from 0 to 1`);
  }
  return value;
}

function eventIds(value: unknown, name: string): string[] {
  const ids = value ?? [];
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string" && UUID_PATTERN.test(id))) {
    throw new RangeError(`${name} must be an array of uuids`);
  }
  return ids.map((id: string) => id.toLowerCase());
}

/** Validates a `POST /_faults` body; throws a RangeError naming the bad field. */
export function parseFaults(body: unknown): Faults {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new RangeError("body must be a JSON object");
  const input = body as Record<string, unknown>;
  const known = new Set(["failRate", "delayMs", "rejectRate", "rejectEventIds", "failEventIds"]);
  const unknown = Object.keys(input).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new RangeError(`unknown field(s): ${unknown.join(", ")}`);
  const delayMs = input.delayMs ?? 0;
  if (typeof delayMs !== "number" || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
    throw new RangeError(`delayMs must be an integer from 0 to ${MAX_DELAY_MS}`);
  }
  return {
    failRate: rate(input.failRate, "failRate"),
    delayMs,
    rejectRate: rate(input.rejectRate, "rejectRate"),
    rejectEventIds: eventIds(input.rejectEventIds, "rejectEventIds"),
    failEventIds: eventIds(input.failEventIds, "failEventIds"),
  };
}

/** The injected fault for one request, if any: "reject" (422) wins over "fail" (503). */
export function pickFault(faults: Faults, eventId: string, random: () => number = Math.random): "reject" | "fail" | null {
  if (faults.rejectEventIds.includes(eventId.toLowerCase())) return "reject";
  if (faults.rejectRate > 0 && random() < faults.rejectRate) return "reject";
  if (faults.failEventIds.includes(eventId.toLowerCase())) return "fail";
  if (faults.failRate > 0 && random() < faults.failRate) return "fail";
  return null;
}
