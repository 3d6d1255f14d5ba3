import { EntitySchema } from "@mikro-orm/core";
import { Wallet } from "./wallet";

export const LedgerEntryTypes = ["CHARGE", "USE", "REFUND"] as const;
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
    userId: {
      kind: "m:1",
      entity: () => Wallet,
      mapToPk: true,
      fieldName: "user_id",
      foreignKeyName: "ledger_entry_user_id_fkey",
      updateRule: "no action",
    },
    // An enum: MikroORM writes the CHECK (ledger_entry_type_check) from the same array as the TypeScript type.
    type: { enum: true, items: () => LedgerEntryTypes, columnType: "varchar(16)" },
    amount: { type: "integer", columnType: "bigint" },
    balanceAfter: { type: "integer", columnType: "bigint", fieldName: "balance_after" },
    idempotencyKey: { type: "string", length: 128, nullable: true, fieldName: "idempotency_key" },
    paymentId: { type: "integer", nullable: true, fieldName: "payment_id" },
    createdAt: { type: "Date", columnType: "timestamptz", fieldName: "created_at", defaultRaw: "now()" },
  },
  indexes: [{ name: "ledger_entry_user_idx", expression: "create index ledger_entry_user_idx on ledger_entry (user_id, id desc)" }],
  uniques: [
    { name: "ledger_entry_idempotency_uq", properties: ["userId", "idempotencyKey"] },
    // One refund per payment: the final word when two refunds of the same payment race.
    {
      name: "ledger_entry_refund_payment_uq",
      expression: "create unique index ledger_entry_refund_payment_uq on ledger_entry (payment_id) where type = 'REFUND'",
    },
  ],
  checks: [
    { name: "ledger_entry_amount_check", expression: "amount > 0" },
    { name: "ledger_entry_balance_after_check", expression: "balance_after >= 0" },
  ],
});
