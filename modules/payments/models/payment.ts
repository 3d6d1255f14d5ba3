import { EntitySchema } from "@mikro-orm/core";
import { Reservation } from "../../reservations/models/reservation";

export const PaymentStatuses = ["COMPLETED", "REFUNDED"] as const;
export type PaymentStatus = (typeof PaymentStatuses)[number];

export class Payment {
  id!: number;
  reservationId!: number;
  userId!: string;
  amount!: number;
  status: PaymentStatus = "COMPLETED";
  idempotencyKey!: string;
  paidAt: Date = new Date();
  refundedAt: Date | null = null;
}

export const PaymentSchema = new EntitySchema<Payment>({
  class: Payment,
  tableName: "payment",
  properties: {
    id: { type: "integer", primary: true, autoincrement: true },
    reservationId: {
      kind: "m:1",
      entity: () => Reservation,
      mapToPk: true,
      fieldName: "reservation_id",
      foreignKeyName: "payment_reservation_id_fkey",
      updateRule: "no action",
    },
    userId: { type: "string", length: 64, fieldName: "user_id" },
    amount: { type: "integer", columnType: "bigint" },
    // An enum: MikroORM writes the CHECK (payment_status_check) from the same array as the TypeScript type.
    status: { enum: true, items: () => PaymentStatuses, columnType: "varchar(16)", default: "COMPLETED" },
    idempotencyKey: { type: "string", length: 128, fieldName: "idempotency_key" },
    paidAt: { type: "Date", columnType: "timestamptz", fieldName: "paid_at", defaultRaw: "now()" },
    refundedAt: { type: "Date", columnType: "timestamptz", nullable: true, fieldName: "refunded_at" },
  },
  uniques: [
    // One payment per reservation.
    { name: "payment_reservation_uq", properties: ["reservationId"] },
    { name: "payment_idempotency_uq", properties: ["userId", "idempotencyKey"] },
  ],
  checks: [
    { name: "payment_amount_check", expression: "amount >= 0" },
  ],
});
