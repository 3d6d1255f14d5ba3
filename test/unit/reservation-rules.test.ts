import {
  MAX_ROW_ID,
  canTransition,
  effectiveStatus,
  holdAmount,
  isLive,
  missingSeatIds,
  seatIdsOfLockKeys,
  seatListProblem,
  seatLockKeys,
  seatLockOrder,
  unavailableSeatIds,
} from "../../modules/reservations/reservation-rules";
import { ReservationStatuses } from "../../modules/reservations/models/reservation";

describe("seat list of a hold request", () => {
  it.each([[[1]], [[4, 2]], [[1, 2, 3, 4]], [[MAX_ROW_ID]]])("accepts %j", (ids) => {
    expect(seatListProblem(ids)).toBeNull();
  });

  it.each([
    ["not an array", "1,2", /array/],
    ["empty", [], /at least one/],
    ["five seats", [1, 2, 3, 4, 5], /at most 4/],
    ["a duplicate", [3, 3], /repeat/],
    ["a string id", ["1"], /positive integer/],
    ["zero", [0], /positive integer/],
    ["a negative id", [-2], /positive integer/],
    ["a fraction", [1.5], /positive integer/],
    ["an id beyond int4", [MAX_ROW_ID + 1], /positive integer/],
  ])("refuses %s", (_label, ids, message) => {
    expect(seatListProblem(ids)).toMatch(message);
  });
});

describe("lock order", () => {
  it("sorts ids numerically and drops repeats", () => {
    expect(seatLockOrder([10, 2, 33, 2, 9])).toEqual([2, 9, 10, 33]);
  });

  it("names one Redis lock per seat in that order", () => {
    expect(seatLockKeys([12, 3, 7])).toEqual(["seat:3", "seat:7", "seat:12"]);
  });

  it("reads the seat ids back from lock names", () => {
    expect(seatIdsOfLockKeys(seatLockKeys([12, 3]))).toEqual([3, 12]);
    expect(seatIdsOfLockKeys(["schedule:4", "seat:x", "seat:9"])).toEqual([9]);
  });
});

describe("seats found for a request", () => {
  it("lists requested ids that were not found, ascending", () => {
    expect(missingSeatIds([9, 4, 7], [{ id: 4 }])).toEqual([7, 9]);
    expect(missingSeatIds([4], [{ id: 4 }])).toEqual([]);
  });

  it("lists seats that are not AVAILABLE", () => {
    const seats = [
      { id: 5, status: "SOLD" },
      { id: 1, status: "AVAILABLE" },
      { id: 3, status: "HELD" },
    ];
    expect(unavailableSeatIds(seats)).toEqual([3, 5]);
    expect(unavailableSeatIds([{ id: 1, status: "AVAILABLE" }])).toEqual([]);
  });

  it("costs the sum of the seat prices", () => {
    expect(
      holdAmount([
        { id: 1, number: 1, price: 150_000 },
        { id: 2, number: 40, price: 80_000 },
      ]),
    ).toBe(230_000);
    expect(holdAmount([])).toBe(0);
    expect(() => holdAmount([{ id: 1, number: 1, price: -1 }])).toThrow(RangeError);
  });
});

describe("reservation status", () => {
  it("leaves HELD only to CONFIRMED, CANCELLED or EXPIRED, and CONFIRMED only to REFUNDED", () => {
    const allowed = ReservationStatuses.flatMap((from) =>
      ReservationStatuses.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed).toEqual(["HELD->CONFIRMED", "HELD->CANCELLED", "HELD->EXPIRED", "CONFIRMED->REFUNDED"]);
  });

  it("keeps seats only while HELD or CONFIRMED", () => {
    expect(ReservationStatuses.filter(isLive)).toEqual(["HELD", "CONFIRMED"]);
  });

  it("reads a lapsed hold as EXPIRED before the sweeper writes it", () => {
    const expiresAt = new Date("2026-01-01T10:05:00Z");
    expect(effectiveStatus("HELD", expiresAt, new Date("2026-01-01T10:04:59.999Z"))).toBe("HELD");
    expect(effectiveStatus("HELD", expiresAt, expiresAt)).toBe("EXPIRED");
    expect(effectiveStatus("CONFIRMED", expiresAt, new Date("2026-02-01T00:00:00Z"))).toBe("CONFIRMED");
    expect(effectiveStatus("CANCELLED", expiresAt, new Date("2026-02-01T00:00:00Z"))).toBe("CANCELLED");
  });
});
