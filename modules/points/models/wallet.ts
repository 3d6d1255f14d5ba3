import { EntitySchema } from "@mikro-orm/core";

export class Wallet {
  userId!: string;
  balance = 0;
  updatedAt: Date = new Date();
}

export const WalletSchema = new EntitySchema<Wallet>({
  class: Wallet,
  tableName: "wallet",
  properties: {
    userId: { type: "string", length: 64, primary: true, fieldName: "user_id" },
    // bigint in PostgreSQL, read back as a JS number: balances stay far below 2^53.
    balance: { type: "integer", columnType: "bigint", default: 0 },
    updatedAt: { type: "Date", columnType: "timestamptz", fieldName: "updated_at", defaultRaw: "now()" },
  },
  // Invariant 2 in the database: no code path can make a balance negative.
  checks: [{ name: "wallet_balance_check", expression: "balance >= 0" }],
});
