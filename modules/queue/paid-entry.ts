/**
 * Whether a `payment.completed` delivered now should still remove the payer's queue entry. The
 * entry that paid was ACTIVE at `paidAt`, so it has expired by itself once the active TTL has
 * passed since then; an entry found after that is a new one (the user queued again) and stays.
 * This keeps a late redelivery (after a Kafka outage) from throwing a returning buyer out.
 */
export function shouldExpirePaidEntry(paidAt: unknown, activeTtlMs: number, nowMs = Date.now()): boolean {
  const paidMs = typeof paidAt === "string" ? Date.parse(paidAt) : Number.NaN;
  if (Number.isNaN(paidMs)) return true;
  return nowMs - paidMs <= activeTtlMs;
}
