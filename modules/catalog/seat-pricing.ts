/** Demo price tiers of a 50-seat hall (integer points, KRW). */
export const PRICE_TIERS = [
  { upTo: 10, name: "VIP", price: 150_000 },
  { upTo: 30, name: "R", price: 110_000 },
  { upTo: Number.POSITIVE_INFINITY, name: "S", price: 80_000 },
] as const;

export function seatPrice(seatNumber: number): number {
  if (!Number.isInteger(seatNumber) || seatNumber < 1) throw new RangeError(`Invalid seat number ${seatNumber}`);
  return PRICE_TIERS.find((tier) => seatNumber <= tier.upTo)!.price;
}
