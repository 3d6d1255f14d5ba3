import { seatPrice } from "../../modules/catalog/seat-pricing";

describe("seatPrice", () => {
  it("prices the tiers of a 50-seat hall", () => {
    expect([1, 10, 11, 30, 31, 50].map(seatPrice)).toEqual([150_000, 150_000, 110_000, 110_000, 80_000, 80_000]);
  });
  it("refuses impossible seat numbers", () => {
    expect(() => seatPrice(0)).toThrow(RangeError);
    expect(() => seatPrice(1.5)).toThrow(RangeError);
  });
});
