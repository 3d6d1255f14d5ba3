import { EntitySchema } from "@mikro-orm/core";

export class Payment {
  id!: number;
  reservationId!: number;
  userId!: string;
  amount!: number;
  status = "COMPLETED" as const;
  idempotencyKey!: string;
  paidAt: Date = new Date();
}

export const PaymentSchema = new EntitySchema<Payment>({
  class: Payment,
  tableName: "payment",
  properties: {
    id: { type: "integer", primary: true, autoincrement: true },
    reservationId: { type: "integer", fieldName: "reservation_id", unique: true },
    userId: { type: "string", length: 64, fieldName: "user_id" },
    amount: { type: "integer", columnType: "bigint" },
    status: { type: "string", length: 16 },
    idempotencyKey: { type: "string", length: 128, fieldName: "idempotency_key" },
    paidAt: { type: "Date", columnType: "timestamptz", fieldName: "paid_at", defaultRaw: "now()" },
  },
});
