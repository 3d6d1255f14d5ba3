import { PRICE_TIERS, seatPrice } from "../../modules/catalog/seat-pricing";

describe("seatPrice", () => {
  it.each([
    [1, 150_000],
    [10, 150_000],
    [11, 110_000],
    [30, 110_000],
    [31, 80_000],
    [50, 80_000],
  ])("seat %i costs %i points", (seat, price) => {
    expect(seatPrice(seat)).toBe(price);
  });

  it("prices fall from the front rows backwards", () => {
    const prices = PRICE_TIERS.map((tier) => tier.price);
    expect([...prices].sort((a, b) => b - a)).toEqual(prices);
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses seat number %p", (seat) => {
    expect(() => seatPrice(seat)).toThrow(RangeError);
  });
});
