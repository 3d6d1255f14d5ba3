import { Errors } from "moleculer";
import {
  assertLayout,
  assertSaleWindows,
  layoutSeats,
  MAX_SEATS_PER_SCHEDULE,
  parseInstant,
  seatCount,
} from "../../modules/catalog/catalog-rules";
import { DEMO_SECTIONS } from "../../modules/catalog/demo-data";

const fieldOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(Errors.ValidationError);
    return (err as Errors.ValidationError).data[0].field;
  }
};

describe("catalog rules", () => {
  it("parses ISO-8601 instants, keeps undefined (not given) apart from null (open now)", () => {
    expect(parseInstant("2027-01-01T09:00:00+09:00", "f")).toEqual(new Date("2027-01-01T00:00:00Z"));
    expect(parseInstant("2027-01-01T00:00Z", "f")).toEqual(new Date("2027-01-01T00:00:00Z"));
    expect(parseInstant(undefined, "f")).toBeUndefined();
    expect(parseInstant(null, "f")).toBeNull();
    for (const bad of ["2027-01-01", "tomorrow", "2027-13-01T00:00:00Z", "2027-01-01T00:00:00", ""]) {
      expect(fieldOf(() => parseInstant(bad, "startsAt"))).toBe("startsAt");
    }
  });

  it("refuses a sale that opens before its queue; equal or open-now windows pass", () => {
    const at = (iso: string) => new Date(iso);
    expect(fieldOf(() => assertSaleWindows(at("2027-01-02T00:00:00Z"), at("2027-01-01T23:59:59Z")))).toBe("saleOpensAt");
    expect(fieldOf(() => assertSaleWindows(at("2027-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z")))).toBeUndefined();
    expect(fieldOf(() => assertSaleWindows(null, at("2020-01-01T00:00:00Z")))).toBeUndefined();
    expect(fieldOf(() => assertSaleWindows(at("2030-01-01T00:00:00Z"), null))).toBeUndefined();
  });

  it("lays seats out section by section, row by row, numbered within the row", () => {
    const seats = layoutSeats([
      { name: " Floor ", rows: 2, seatsPerRow: 2, price: 5 },
      { name: "B", rows: 1, seatsPerRow: 1, price: 0 },
    ]);
    expect(seats).toEqual([
      { section: "Floor", row: "1", number: 1, price: 5 },
      { section: "Floor", row: "1", number: 2, price: 5 },
      { section: "Floor", row: "2", number: 1, price: 5 },
      { section: "Floor", row: "2", number: 2, price: 5 },
      { section: "B", row: "1", number: 1, price: 0 },
    ]);
    expect(seatCount(DEMO_SECTIONS)).toBe(50);
  });

  it("allows 1 to 10,000 seats and unique section names (ignoring case and spaces)", () => {
    const section = (name: string, rows: number, seatsPerRow = 1) => ({ name, rows, seatsPerRow, price: 1 });
    expect(fieldOf(() => assertLayout([section("A", 100, 100)]))).toBeUndefined();
    expect(fieldOf(() => assertLayout([section("A", 100, 100), section("B", 1)]))).toBe("sections");
    expect(fieldOf(() => assertLayout([]))).toBe("sections");
    expect(fieldOf(() => assertLayout([section("VIP", 1), section("R", 1), section(" vip", 1)]))).toBe("sections[2].name");
    expect(MAX_SEATS_PER_SCHEDULE).toBe(10_000);
  });
});
