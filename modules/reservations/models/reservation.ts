import { EntitySchema } from "@mikro-orm/core";

export const ReservationStatuses = ["HELD", "CONFIRMED", "CANCELLED", "EXPIRED"] as const;
export type ReservationStatus = (typeof ReservationStatuses)[number];

export class Reservation {
  id!: number;
  userId!: string;
  concertId!: number;
  scheduleId!: number;
  status: ReservationStatus = "HELD";
  amount!: number;
  expiresAt!: Date;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const ReservationSchema = new EntitySchema<Reservation>({
  class: Reservation,
  tableName: "reservation",
  properties: {
    id: { type: "integer", primary: true, autoincrement: true },
    userId: { type: "string", length: 64, fieldName: "user_id" },
    concertId: { type: "integer", fieldName: "concert_id" },
    scheduleId: { type: "integer", fieldName: "schedule_id" },
    status: { type: "string", length: 16 },
    amount: { type: "integer" },
    expiresAt: { type: "Date", columnType: "timestamptz", fieldName: "expires_at" },
    createdAt: { type: "Date", columnType: "timestamptz", fieldName: "created_at", defaultRaw: "now()" },
    updatedAt: { type: "Date", columnType: "timestamptz", fieldName: "updated_at", defaultRaw: "now()" },
  },
});
