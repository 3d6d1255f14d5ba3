import { EntitySchema } from "@mikro-orm/core";

export const LedgerEntryTypes = ["CHARGE", "USE"] as const;
export type LedgerEntryType = (typeof LedgerEntryTypes)[number];

/** Every change of a wallet; the wallet balance always equals the signed sum of its entries. */
export class LedgerEntry {
  id!: number;
  userId!: string;
  type!: LedgerEntryType;
  amount!: number;
  balanceAfter!: number;
  idempotencyKey?: string | null;
  paymentId?: number | null;
  createdAt: Date = new Date();
}

export const LedgerEntrySchema = new EntitySchema<LedgerEntry>({
  class: LedgerEntry,
  tableName: "ledger_entry",
  properties: {
    id: { type: "integer", columnType: "bigint", primary: true, autoincrement: true },
    userId: { type: "string", length: 64, fieldName: "user_id" },
    type: { type: "string", length: 16 },
    amount: { type: "integer", columnType: "bigint" },
    balanceAfter: { type: "integer", columnType: "bigint", fieldName: "balance_after" },
    idempotencyKey: { type: "string", length: 128, nullable: true, fieldName: "idempotency_key" },
    paymentId: { type: "integer", nullable: true, fieldName: "payment_id" },
    createdAt: { type: "Date", columnType: "timestamptz", fieldName: "created_at", defaultRaw: "now()" },
  },
});
