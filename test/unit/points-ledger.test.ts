import { balanceAfter, canPay, isConsistentChain, ledgerBalance, MAX_CHARGE_AMOUNT, signedAmount } from "../../modules/points/ledger-math";
import { isUniqueViolation } from "../../modules/points/wallet-store";

describe("ledger math", () => {
  it("adds a CHARGE and subtracts a USE", () => {
    expect(signedAmount("CHARGE", 50)).toBe(50);
    expect(signedAmount("USE", 50)).toBe(-50);
    expect(balanceAfter(0, "CHARGE", 500)).toBe(500);
    expect(balanceAfter(500, "USE", 200)).toBe(300);
    expect(balanceAfter(300, "USE", 300)).toBe(0);
  });

  it("adds a REFUND back like a CHARGE, and counts it in the ledger sum", () => {
    expect(signedAmount("REFUND", 50)).toBe(50);
    expect(balanceAfter(300, "REFUND", 200)).toBe(500);
    expect(ledgerBalance([{ type: "CHARGE", amount: 1000 }, { type: "USE", amount: 400 }, { type: "REFUND", amount: 400 }])).toBe(1000);
    expect(
      isConsistentChain([
        { type: "CHARGE", amount: 1000, balanceAfter: 1000 },
        { type: "USE", amount: 400, balanceAfter: 600 },
        { type: "REFUND", amount: 400, balanceAfter: 1000 },
      ]),
    ).toBe(true);
  });

  it("refuses an entry that would make the balance negative", () => {
    expect(() => balanceAfter(299, "USE", 300)).toThrow(RangeError);
    expect(() => balanceAfter(0, "USE", 1)).toThrow(/negative/);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])("refuses a ledger amount of %p", (amount) => {
    expect(() => balanceAfter(100, "CHARGE", amount)).toThrow(RangeError);
  });

  it("refuses a corrupt starting balance", () => {
    expect(() => balanceAfter(-1, "CHARGE", 1)).toThrow(RangeError);
    expect(() => balanceAfter(0.5, "CHARGE", 1)).toThrow(RangeError);
  });

  it("sums a ledger as CHARGE − USE", () => {
    expect(ledgerBalance([])).toBe(0);
    expect(
      ledgerBalance([
        { type: "CHARGE", amount: 1000 },
        { type: "USE", amount: 400 },
        { type: "CHARGE", amount: 5 },
      ]),
    ).toBe(605);
  });

  it("accepts a consistent chain of balanceAfter values and spots a lost update or overdraft", () => {
    expect(
      isConsistentChain([
        { type: "CHARGE", amount: 100, balanceAfter: 100 },
        { type: "USE", amount: 60, balanceAfter: 40 },
        { type: "CHARGE", amount: 10, balanceAfter: 50 },
      ]),
    ).toBe(true);
    // Two charges that both read 0: the second overwrote the first.
    expect(
      isConsistentChain([
        { type: "CHARGE", amount: 100, balanceAfter: 100 },
        { type: "CHARGE", amount: 100, balanceAfter: 100 },
      ]),
    ).toBe(false);
    // Two payments of the same 100 points.
    expect(
      isConsistentChain([
        { type: "CHARGE", amount: 100, balanceAfter: 100 },
        { type: "USE", amount: 100, balanceAfter: 0 },
        { type: "USE", amount: 100, balanceAfter: 0 },
      ]),
    ).toBe(false);
  });

  it("pays only from a wallet holding at least the amount (a missing wallet holds 0)", () => {
    expect(canPay(100, 100)).toBe(true);
    expect(canPay(99, 100)).toBe(false);
    expect(canPay(null, 0)).toBe(true);
    expect(canPay(null, 1)).toBe(false);
  });

  it("caps a single charge at 10,000,000 points", () => {
    expect(MAX_CHARGE_AMOUNT).toBe(10_000_000);
  });
});

describe("isUniqueViolation", () => {
  it("matches only a 23505 on the named constraint", () => {
    expect(isUniqueViolation({ code: "23505", constraint: "ledger_entry_idempotency_uq" }, "ledger_entry_idempotency_uq")).toBe(true);
    expect(isUniqueViolation({ code: "23505", constraint: "payment_reservation_uq" }, "ledger_entry_idempotency_uq")).toBe(false);
    expect(isUniqueViolation({ code: "23514", constraint: "ledger_entry_idempotency_uq" }, "ledger_entry_idempotency_uq")).toBe(false);
    expect(isUniqueViolation(new Error("boom"), "ledger_entry_idempotency_uq")).toBe(false);
    expect(isUniqueViolation(null, "x")).toBe(false);
  });
});
