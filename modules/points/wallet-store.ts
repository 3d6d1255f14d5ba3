import type { EntityManager } from "@mikro-orm/postgresql";
import { isoTimestamp } from "../../lib/db/timestamps";
import { domainError } from "../../lib/errors";
import { balanceAfter } from "./ledger-math";
import type { LedgerEntryType } from "./models/ledger-entry";
import { transactional } from "../../lib/db/transient-retry";

export interface WalletView {
  userId: string;
  balance: number;
}

export interface LedgerEntryView {
  id: number;
  type: LedgerEntryType;
  amount: number;
  balanceAfter: number;
  createdAt: string;
}

/** PostgreSQL unique_violation on the named constraint (MikroORM copies the pg error's fields). */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  return e?.code === "23505" && e.constraint === constraint;
}

/** The balance; a user who never charged has no wallet row and a balance of 0. */
export async function getWallet(em: EntityManager, userId: string): Promise<WalletView> {
  const [row] = await em.execute<Array<{ balance: number }>>("select balance from wallet where user_id = ?", [userId]);
  return { userId, balance: row?.balance ?? 0 };
}

export async function listHistory(em: EntityManager, userId: string, limit: number): Promise<LedgerEntryView[]> {
  const rows = await em.execute<Array<{ id: number; type: LedgerEntryType; amount: number; balance_after: number; created_at: string }>>(
    "select id, type, amount, balance_after, created_at from ledger_entry where user_id = ? order by id desc limit ?",
    [userId, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    type: row.type,
    amount: row.amount,
    balanceAfter: row.balance_after,
    createdAt: isoTimestamp(row.created_at),
  }));
}

/**
 * Locks the wallet row for the rest of the transaction and returns its balance, or null when the
 * user has no wallet. Every balance change goes through this lock, so changes are serialised.
 */
export async function lockWallet(tx: EntityManager, userId: string): Promise<number | null> {
  const [row] = await tx.execute<Array<{ balance: number }>>("select balance from wallet where user_id = ? for update", [userId]);
  return row ? row.balance : null;
}

/** Applies one ledger entry to a wallet locked by lockWallet (whose balance is `balance`). */
export async function applyEntry(
  tx: EntityManager,
  entry: { userId: string; type: LedgerEntryType; amount: number; balance: number; idempotencyKey?: string; paymentId?: number },
): Promise<number> {
  const next = balanceAfter(entry.balance, entry.type, entry.amount);
  // One round trip for both rows (a data-modifying CTE): this runs inside every payment and charge.
  await tx.execute(
    `with w as (update wallet set balance = ?, updated_at = now() where user_id = ?)
     insert into ledger_entry (user_id, type, amount, balance_after, idempotency_key, payment_id) values (?, ?, ?, ?, ?, ?)`,
    [next, entry.userId, entry.userId, entry.type, entry.amount, next, entry.idempotencyKey ?? null, entry.paymentId ?? null],
  );
  return next;
}

interface ChargeRecord {
  amount: number;
  balance_after: number;
}

async function findCharge(em: EntityManager, userId: string, idempotencyKey: string): Promise<ChargeRecord | undefined> {
  const [row] = await em.execute<ChargeRecord[]>(
    "select amount, balance_after from ledger_entry where user_id = ? and idempotency_key = ? and type = 'CHARGE'",
    [userId, idempotencyKey],
  );
  return row;
}

/** A repeated key answers what the first charge answered; the same key with another amount is a client bug. */
function replayCharge(userId: string, amount: number, first: ChargeRecord, idempotencyKey: string): WalletView {
  if (first.amount !== amount) {
    throw domainError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was already used for a charge of another amount", {
      idempotencyKey,
      amount: first.amount,
    });
  }
  return { userId, balance: first.balance_after };
}

/**
 * Adds points: one transaction creates the wallet if needed, locks it, raises the balance and
 * writes the CHARGE entry. With an idempotency key, a repeat returns the first result and charges
 * nothing; the key is checked after the wallet lock, so a concurrent repeat waits for the first
 * and then sees it. The unique (user_id, idempotency_key) is the last line of defence.
 */
export async function chargePoints(em: EntityManager, userId: string, amount: number, idempotencyKey?: string): Promise<WalletView> {
  try {
    // After a lost COMMIT only a keyed charge runs again (the key makes it single); one without a key could charge twice.
    return await transactional(em, async (tx) => {
      await tx.execute("insert into wallet (user_id, balance) values (?, 0) on conflict (user_id) do nothing", [userId]);
      const balance = (await lockWallet(tx, userId)) ?? 0;
      if (idempotencyKey) {
        const first = await findCharge(tx, userId, idempotencyKey);
        if (first) return replayCharge(userId, amount, first, idempotencyKey);
      }
      const next = await applyEntry(tx, { userId, type: "CHARGE", amount, balance, idempotencyKey });
      return { userId, balance: next };
    }, { repeatAfterLostCommit: Boolean(idempotencyKey) });
  } catch (err) {
    if (!idempotencyKey || !isUniqueViolation(err, "ledger_entry_idempotency_uq")) throw err;
    const first = await findCharge(em, userId, idempotencyKey);
    if (!first) throw err;
    return replayCharge(userId, amount, first, idempotencyKey);
  }
}
