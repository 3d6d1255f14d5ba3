import { EntitySchema } from "@mikro-orm/core";
import { Concert } from "../../catalog/models/concert";
import { Schedule } from "../../catalog/models/schedule";

export const ReservationStatuses = ["HELD", "CONFIRMED", "CANCELLED", "EXPIRED", "REFUNDED"] as const;
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
    concertId: {
      kind: "m:1",
      entity: () => Concert,
      mapToPk: true,
      fieldName: "concert_id",
      foreignKeyName: "reservation_concert_id_fkey",
      updateRule: "no action",
    },
    scheduleId: {
      kind: "m:1",
      entity: () => Schedule,
      mapToPk: true,
      fieldName: "schedule_id",
      foreignKeyName: "reservation_schedule_id_fkey",
      updateRule: "no action",
    },
    // An enum: MikroORM writes the CHECK (reservation_status_check) from the same array as the TypeScript type.
    status: { enum: true, items: () => ReservationStatuses, columnType: "varchar(16)" },
    amount: { type: "integer" },
    expiresAt: { type: "Date", columnType: "timestamptz", fieldName: "expires_at" },
    createdAt: { type: "Date", columnType: "timestamptz", fieldName: "created_at", defaultRaw: "now()" },
    updatedAt: { type: "Date", columnType: "timestamptz", fieldName: "updated_at", defaultRaw: "now()" },
  },
  indexes: [
    { name: "reservation_user_idx", expression: "create index reservation_user_idx on reservation (user_id, created_at desc)" },
    // The sweeper scans only live holds by expiry.
    {
      name: "reservation_held_expiry_idx",
      expression: "create index reservation_held_expiry_idx on reservation (expires_at) where status = 'HELD'",
    },
  ],
  checks: [
    { name: "reservation_amount_check", expression: "amount >= 0" },
  ],
});
