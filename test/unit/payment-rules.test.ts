import { Errors } from "moleculer";
import { DomainError } from "../../lib/errors";
import { isValidIdempotencyKey, readIdempotencyKey } from "../../lib/idempotency-key";
import { isoTimestamp } from "../../lib/db/timestamps";
import {
  insufficientPoints,
  keyReuseRefusal,
  MAX_INT4,
  paymentCompletedEvent,
  reservationRefusal,
} from "../../modules/payments/payment-rules";

describe("reservationRefusal", () => {
  it("lets a live HELD reservation be paid", () => {
    expect(reservationRefusal(7, "HELD", true)).toBeNull();
  });

  it("answers 410 RESERVATION_EXPIRED for a HELD reservation past its expiry (sweeper not run yet)", () => {
    const err = reservationRefusal(7, "HELD", false);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 410, type: "RESERVATION_EXPIRED", data: { reservationId: 7 } });
  });

  it.each([true, false])("answers 410 for an EXPIRED reservation (live=%p)", (live) => {
    expect(reservationRefusal(7, "EXPIRED", live)).toMatchObject({ code: 410, type: "RESERVATION_EXPIRED" });
  });

  it.each(["CONFIRMED", "CANCELLED"] as const)("answers 409 RESERVATION_NOT_HELD for a %s reservation", (status) => {
    expect(reservationRefusal(7, status, true)).toMatchObject({ code: 409, type: "RESERVATION_NOT_HELD", data: { status } });
    expect(reservationRefusal(7, status, false)).toMatchObject({ code: 409, type: "RESERVATION_NOT_HELD" });
  });
});

describe("insufficientPoints", () => {
  it("accepts a balance that covers the amount", () => {
    expect(insufficientPoints(1000, 1000)).toBeNull();
    expect(insufficientPoints(null, 0)).toBeNull();
  });

  it("answers 402 with the balance and the amount", () => {
    expect(insufficientPoints(999, 1000)).toMatchObject({ code: 402, type: "INSUFFICIENT_POINTS", data: { balance: 999, amount: 1000 } });
    expect(insufficientPoints(null, 5)).toMatchObject({ code: 402, data: { balance: 0, amount: 5 } });
  });
});

describe("keyReuseRefusal", () => {
  it("replays a key sent again for the same reservation", () => {
    expect(keyReuseRefusal({ reservationId: 3 }, 3, "key-12345")).toBeNull();
  });

  it("refuses a key that already paid another reservation with 409 IDEMPOTENCY_KEY_REUSED", () => {
    expect(keyReuseRefusal({ reservationId: 3 }, 4, "key-12345")).toMatchObject({
      code: 409,
      type: "IDEMPOTENCY_KEY_REUSED",
      data: { idempotencyKey: "key-12345", reservationId: 3 },
    });
  });
});

describe("paymentCompletedEvent", () => {
  it("is exactly the SPEC §4 message, seat ids ascending", () => {
    const event = paymentCompletedEvent({
      eventId: "6f1c1d0e-8a4b-4d55-9d3e-0b8f5e2a7c11",
      paymentId: 12,
      reservation: { id: 34, userId: "alice", concertId: 1, scheduleId: 2 },
      seatIds: [9, 3, 5],
      amount: 4500,
      paidAt: "2026-11-25T10:00:00.000Z",
    });
    expect(event).toEqual({
      eventId: "6f1c1d0e-8a4b-4d55-9d3e-0b8f5e2a7c11",
      paymentId: 12,
      reservationId: 34,
      userId: "alice",
      concertId: 1,
      scheduleId: 2,
      seatIds: [3, 5, 9],
      amount: 4500,
      paidAt: "2026-11-25T10:00:00.000Z",
    });
  });

  it("caps ids at PostgreSQL's int range", () => {
    expect(MAX_INT4).toBe(2 ** 31 - 1);
  });
});

describe("Idempotency-Key", () => {
  it.each(["abcdefgh", "A1_b2-C3", "k".repeat(128), "0123456789abcdef0123"])("accepts %p", (key) => {
    expect(isValidIdempotencyKey(key)).toBe(true);
    expect(readIdempotencyKey(key, true)).toBe(key);
    expect(readIdempotencyKey(key, false)).toBe(key);
  });

  it.each(["abcdefg", "k".repeat(129), "has space1", "slash/key1", "dot.key.1", "", "ключ-ключ-ключ", "tab\tkey12"])(
    "refuses %p with a 422 on the Idempotency-Key field",
    (key) => {
      expect(isValidIdempotencyKey(key)).toBe(false);
      for (const required of [true, false] as const) {
        let thrown: unknown;
        try {
          readIdempotencyKey(key, required as true);
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(Errors.ValidationError);
        expect(thrown).toMatchObject({ code: 422, data: [{ field: "Idempotency-Key" }] });
      }
    },
  );

  it("refuses a non-string key", () => {
    expect(isValidIdempotencyKey(12345678)).toBe(false);
    expect(() => readIdempotencyKey(["abcdefgh"], false)).toThrow(Errors.ValidationError);
  });

  it("is optional only where the endpoint says so", () => {
    expect(readIdempotencyKey(undefined, false)).toBeUndefined();
    expect(() => readIdempotencyKey(undefined, true)).toThrow(Errors.ValidationError);
    expect(() => readIdempotencyKey(null, true)).toThrow(Errors.ValidationError);
  });
});

describe("isoTimestamp", () => {
  it("turns PostgreSQL's timestamptz text into ISO-8601 UTC", () => {
    expect(isoTimestamp("2026-11-25 10:00:00.123456+00")).toBe("2026-11-25T10:00:00.123Z");
    expect(isoTimestamp("2026-11-25 19:00:00+09")).toBe("2026-11-25T10:00:00.000Z");
    expect(isoTimestamp(new Date(0))).toBe("1970-01-01T00:00:00.000Z");
    expect(() => isoTimestamp("not a time")).toThrow(RangeError);
  });
});
