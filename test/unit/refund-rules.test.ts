import { DomainError } from "../../lib/errors";
import { paymentRefundedEvent, refundDecision } from "../../modules/payments/payment-rules";
import { storedStatusesFor } from "../../modules/reservations/reservation-listing";

describe("refundDecision", () => {
  it("refunds a CONFIRMED reservation and answers a REFUNDED one as a repeat", () => {
    expect(refundDecision(7, "CONFIRMED")).toBe("REFUND");
    expect(refundDecision(7, "REFUNDED")).toBe("REPLAY");
  });

  it.each(["HELD", "CANCELLED", "EXPIRED"] as const)("refuses a %s reservation with 409 RESERVATION_NOT_CONFIRMED", (status) => {
    const refusal = refundDecision(7, status);
    expect(refusal).toBeInstanceOf(DomainError);
    expect(refusal).toMatchObject({ code: 409, type: "RESERVATION_NOT_CONFIRMED", data: { reservationId: 7, status } });
  });
});

describe("paymentRefundedEvent", () => {
  it("is the SPEC §7 value, seat ids ascending", () => {
    expect(
      paymentRefundedEvent({
        eventId: "e0b0f3a4-9f0e-4c55-9c3a-000000000001",
        paymentId: 3,
        reservation: { id: 11, userId: "alice", concertId: 2, scheduleId: 5 },
        seatIds: [9, 4, 6],
        amount: 3000,
        refundedAt: "2026-12-03T10:00:00.000Z",
      }),
    ).toEqual({
      eventId: "e0b0f3a4-9f0e-4c55-9c3a-000000000001",
      paymentId: 3,
      reservationId: 11,
      userId: "alice",
      concertId: 2,
      scheduleId: 5,
      seatIds: [4, 6, 9],
      amount: 3000,
      refundedAt: "2026-12-03T10:00:00.000Z",
    });
  });
});

describe("reservation listing filter", () => {
  it("looks for lapsed HELD rows when EXPIRED is asked, and for every status when none is", () => {
    expect(storedStatusesFor("EXPIRED")).toEqual(["EXPIRED", "HELD"]);
    expect(storedStatusesFor("REFUNDED")).toEqual(["REFUNDED"]);
    expect(storedStatusesFor(undefined)).toEqual(["HELD", "CONFIRMED", "CANCELLED", "EXPIRED", "REFUNDED"]);
  });
});
