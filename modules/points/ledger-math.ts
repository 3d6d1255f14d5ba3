import type { LedgerEntryType } from "./models/ledger-entry";

/** SPEC §3: one charge is a positive integer of at most 10,000,000 points. */
export const MAX_CHARGE_AMOUNT = 10_000_000;

/** The signed effect of one ledger entry on the balance: a USE spends, a CHARGE or a REFUND adds. */
export function signedAmount(type: LedgerEntryType, amount: number): number {
  return type === "USE" ? -amount : amount;
}

/**
 * The balance after applying one entry. Refuses what the database would refuse too (CHECK
 * constraints), so a bug shows up as an error here instead of a half-written transaction.
 */
export function balanceAfter(balance: number, type: LedgerEntryType, amount: number): number {
  if (!Number.isSafeInteger(balance) || balance < 0) throw new RangeError(`Invalid balance ${balance}`);
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new RangeError(`Invalid ledger amount ${amount}`);
  const next = balance + signedAmount(type, amount);
  if (next < 0) throw new RangeError(`A ${type} of ${amount} would make the balance ${balance} negative`);
  return next;
}

/** The balance a ledger adds up to (CHARGE + REFUND − USE): a wallet must always equal this. */
export function ledgerBalance(entries: ReadonlyArray<{ type: LedgerEntryType; amount: number }>): number {
  return entries.reduce((sum, entry) => sum + signedAmount(entry.type, entry.amount), 0);
}

/** Can a wallet holding `balance` pay `amount`? (A missing wallet holds 0.) */
export function canPay(balance: number | null, amount: number): boolean {
  return (balance ?? 0) >= amount;
}

/**
 * Is a ledger, in id order, a consistent chain: each entry's balanceAfter is the previous one plus
 * its signed amount, never negative? A lost update or a double spend breaks the chain.
 */
export function isConsistentChain(
  entries: ReadonlyArray<{ type: LedgerEntryType; amount: number; balanceAfter: number }>,
): boolean {
  let balance = 0;
  for (const entry of entries) {
    balance += signedAmount(entry.type, entry.amount);
    if (balance < 0 || entry.balanceAfter !== balance) return false;
  }
  return true;
}
